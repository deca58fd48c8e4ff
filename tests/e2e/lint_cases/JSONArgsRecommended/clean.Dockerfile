FROM debian:bookworm-slim
SHELL ["/bin/bash", "-c"]
CMD python3 -m http.server 8000
