ARG VARIANT=bookworm-slim
FROM debian:${VARIANT}
