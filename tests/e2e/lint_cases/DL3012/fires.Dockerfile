# check=skip=MultipleInstructionsDisallowed
FROM debian:bookworm-slim
HEALTHCHECK CMD ["true"]
HEALTHCHECK --interval=5s CMD ["true"]
