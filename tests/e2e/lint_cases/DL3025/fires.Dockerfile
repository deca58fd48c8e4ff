# check=skip=JSONArgsRecommended
FROM debian:bookworm-slim
ENTRYPOINT python3 -m http.server 8000
