# check=experimental=InvalidDefinitionDescription
FROM debian:bookworm-slim
# GREETING the greeting to print
ARG GREETING=hello
