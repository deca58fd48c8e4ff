FROM debian:bookworm-slim
ADD app.py requirements.txt /srv/
