FROM debian:bookworm-slim
RUN mkdir -p /tmp/work && echo sudo
