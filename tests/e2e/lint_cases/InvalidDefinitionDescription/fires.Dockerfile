# check=experimental=InvalidDefinitionDescription
FROM debian:bookworm-slim
# the greeting to print
ARG GREETING=hello
