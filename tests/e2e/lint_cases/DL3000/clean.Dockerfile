FROM debian:bookworm-slim
ARG APP=/srv/app
WORKDIR $APP
WORKDIR /srv/app/data
