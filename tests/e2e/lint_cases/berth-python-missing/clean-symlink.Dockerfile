FROM ubuntu:22.04
RUN apt-get update && apt-get install -y --no-install-recommends python3.11=3.11.9-1 \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /usr/bin/python3.11 /usr/bin/python3
