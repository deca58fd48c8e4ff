FROM debian:bookworm-slim
STOPSIGNAL SIGTERM
