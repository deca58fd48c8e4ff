FROM debian:bookworm-slim
CMD python3 -m http.server 8000
