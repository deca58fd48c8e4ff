FROM debian:bookworm-slim AS Builder
RUN echo built > /built

FROM debian:bookworm-slim
COPY --from=builder /built /built
