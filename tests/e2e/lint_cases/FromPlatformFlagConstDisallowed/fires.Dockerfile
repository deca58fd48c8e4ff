FROM --platform=linux/amd64 debian:bookworm-slim AS build
RUN echo built > /built
