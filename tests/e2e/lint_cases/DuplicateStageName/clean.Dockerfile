FROM debian:bookworm-slim AS build
RUN echo one > /one

FROM debian:bookworm-slim AS build2
RUN echo two > /two
