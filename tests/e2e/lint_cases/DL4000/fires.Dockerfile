# check=skip=MaintainerDeprecated
FROM debian:bookworm-slim
MAINTAINER jane@example.com
