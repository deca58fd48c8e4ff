# check=skip=MultipleInstructionsDisallowed
FROM debian:bookworm-slim
ENTRYPOINT ["echo"]
CMD ["two"]
