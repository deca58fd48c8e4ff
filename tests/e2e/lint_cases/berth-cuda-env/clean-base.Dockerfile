FROM nvidia/cuda:12.8.0-runtime-ubuntu22.04
