FROM debian:bookworm-slim AS base
WORKDIR /srv

FROM base
COPY app.py app/
COPY app.py /opt/app.py
