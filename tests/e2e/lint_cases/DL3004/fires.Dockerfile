FROM debian:bookworm-slim
RUN sudo -u nobody mkdir -p /tmp/work
