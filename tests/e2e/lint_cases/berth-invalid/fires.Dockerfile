FROM debian:bookworm-slim
STOPSIGNAL SIGFOO
