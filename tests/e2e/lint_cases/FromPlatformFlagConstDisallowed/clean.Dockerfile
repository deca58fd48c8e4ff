FROM --platform=linux/amd64 debian:bookworm-slim AS build-amd64
RUN echo built > /built
