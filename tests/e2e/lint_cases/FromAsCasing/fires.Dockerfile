FROM debian:bookworm-slim as builder
RUN echo built > /built
