FROM debian:bookworm-slim AS fetch
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
RUN curl -fsSLo /tool https://example.com/tool

FROM debian:bookworm-slim
COPY --from=fetch /tool /usr/local/bin/tool
RUN apt-get update && apt-get install -y --no-install-recommends git=1:2.39.2-1.1 \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1
