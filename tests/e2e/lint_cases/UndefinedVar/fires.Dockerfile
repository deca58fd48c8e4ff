FROM debian:bookworm-slim
ENV APP_HOME=/srv/app
WORKDIR $APP_HOEM
ENV CACHE=$DATA_DIR/cache
ENV DATA_DIR=/data
ENV VENV=$PWD/.venv
