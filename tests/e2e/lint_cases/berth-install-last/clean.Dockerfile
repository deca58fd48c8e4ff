FROM python:3.12-slim
RUN pip install --no-cache-dir torch==2.6.0
RUN pip install --no-cache-dir protobuf==4.25.1 pydantic==2.10.6 \
    && python3 -m pip install --no-cache-dir --upgrade pip==24.0 \
    && apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 \
    && rm -rf /var/lib/apt/lists/*
