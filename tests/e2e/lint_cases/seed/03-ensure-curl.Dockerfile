FROM ubuntu:22.04

# Install Curl
RUN apt-get update && apt-get install -y curl
