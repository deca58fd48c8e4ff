FROM debian:bookworm-slim
ENV GREETING="hello world"
