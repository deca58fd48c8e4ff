FROM debian:bookworm-slim
ENV CUDA_HOME=/usr/local/cuda
