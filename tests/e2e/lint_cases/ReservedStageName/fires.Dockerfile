FROM debian:bookworm-slim AS context
RUN echo built > /built
