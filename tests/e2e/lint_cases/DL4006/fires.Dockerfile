FROM debian:bookworm-slim
RUN wget -qO- https://example.com/install.sh | sh
