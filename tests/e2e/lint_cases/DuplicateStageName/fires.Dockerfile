FROM debian:bookworm-slim AS build
RUN echo one > /one

FROM debian:bookworm-slim AS build
RUN echo two > /two
