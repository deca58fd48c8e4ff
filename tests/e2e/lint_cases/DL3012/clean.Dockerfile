# check=skip=MultipleInstructionsDisallowed
FROM debian:bookworm-slim
HEALTHCHECK --interval=5s CMD ["true"]
