FROM debian:bookworm-slim
COPY app.py app/
