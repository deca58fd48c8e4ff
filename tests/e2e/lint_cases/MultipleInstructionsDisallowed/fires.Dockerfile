FROM debian:bookworm-slim
CMD ["echo", "one"]
CMD ["echo", "two"]
