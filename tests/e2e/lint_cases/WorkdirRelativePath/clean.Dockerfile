FROM debian:bookworm-slim
WORKDIR /srv
WORKDIR app
