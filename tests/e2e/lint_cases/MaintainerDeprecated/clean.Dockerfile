FROM debian:bookworm-slim
LABEL org.opencontainers.image.authors="Jane Doe <jane@example.com>"
