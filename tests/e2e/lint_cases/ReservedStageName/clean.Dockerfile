FROM debian:bookworm-slim AS ctx
RUN echo built > /built
