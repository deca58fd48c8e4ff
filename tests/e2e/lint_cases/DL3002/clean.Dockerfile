FROM debian:bookworm-slim
USER root
RUN useradd --create-home app
USER app
