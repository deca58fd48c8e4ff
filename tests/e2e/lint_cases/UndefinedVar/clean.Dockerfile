FROM debian:bookworm-slim
ENV APP_HOME=/srv/app
WORKDIR $APP_HOME
ENV DATA_DIR=/data
ENV CACHE=$DATA_DIR/cache
ENV LEVEL=${LOG_LEVEL:-info}
