FROM python:3.12-slim
RUN pip install --no-cache-dir pydantic==2.10.6 torch==2.6.0
