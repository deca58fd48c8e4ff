# check=skip=MultipleInstructionsDisallowed
FROM debian:bookworm-slim AS base
ENTRYPOINT ["echo", "one"]

FROM base
ENTRYPOINT ["echo", "two"]
