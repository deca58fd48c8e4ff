FROM python:3.12-slim
RUN pip install --no-cache-dir torch "transformers>=4.30.2" numpy==1.26.4
