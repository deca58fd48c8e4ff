FROM debian:bookworm-slim
ARG GITHUB_TOKEN
ENV AWS_SECRET_ACCESS_KEY=changeme
