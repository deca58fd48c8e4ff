FROM python:3.12-slim
RUN pip install --no-cache-dir pydantic==2.10.6 protobuf==4.25.1
RUN pip install --no-cache-dir torch==2.6.0
