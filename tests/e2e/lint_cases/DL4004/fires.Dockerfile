# check=skip=MultipleInstructionsDisallowed
FROM debian:bookworm-slim
ENTRYPOINT ["echo", "one"]
ENTRYPOINT ["echo", "two"]
