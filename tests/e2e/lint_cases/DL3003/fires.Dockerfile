FROM debian:bookworm-slim
RUN mkdir -p /srv/app && cd /srv/app && touch ready
