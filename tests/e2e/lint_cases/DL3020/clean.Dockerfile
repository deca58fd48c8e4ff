FROM debian:bookworm-slim
ADD vendor.tar.gz /srv/
ADD https://example.com/model.bin /srv/model.bin
COPY app.py /srv/
