FROM debian:bookworm-slim AS base
CMD ["echo", "one"]

FROM base
CMD ["echo", "two"]
