FROM debian:bookworm-slim
RUN mkdir -p /srv
RUN touch /srv/ready
