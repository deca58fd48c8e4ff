FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=1
RUN python3 -m pip install requests==2.31.0
