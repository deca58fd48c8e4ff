FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3-pil=9.4.0-1.1 \
    && rm -rf /var/lib/apt/lists/*
