FROM debian:bookworm-slim
EXPOSE 8000 70000/udp
