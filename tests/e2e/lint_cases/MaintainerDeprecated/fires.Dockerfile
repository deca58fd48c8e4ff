FROM debian:bookworm-slim
MAINTAINER Jane Doe <jane@example.com>
