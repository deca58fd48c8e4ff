FROM debian:bookworm-slim
RUN apt-get update && apt-cache policy curl && rm -rf /var/lib/apt/lists/*
