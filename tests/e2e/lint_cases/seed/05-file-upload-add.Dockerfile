FROM python:3.11-slim
ADD https://example.com/requirements.txt /app/requirements.txt
WORKDIR /app
RUN pip install -r requirements.txt
