FROM debian:bookworm-slim
EXPOSE 8000-8010/tcp 65535
