FROM debian:bookworm-slim
WORKDIR /srv/app
RUN touch ready && echo "cd is only text here"
