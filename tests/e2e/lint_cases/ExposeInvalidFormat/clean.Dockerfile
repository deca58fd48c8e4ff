FROM debian:bookworm-slim
EXPOSE 8000
