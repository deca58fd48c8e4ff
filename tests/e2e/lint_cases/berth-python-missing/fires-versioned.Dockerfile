FROM ubuntu:22.04
RUN apt-get update && apt-get install -y --no-install-recommends \
        software-properties-common=0.99.22.9 \
    && add-apt-repository ppa:deadsnakes/ppa \
    && apt-get update && apt-get install -y --no-install-recommends python3.11=3.11.9-1 \
    && rm -rf /var/lib/apt/lists/*
