FROM debian:bookworm-slim AS builder
RUN echo built > /built

FROM debian:bookworm-slim
COPY --from=builder /built /built
