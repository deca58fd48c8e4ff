FROM python:3.12-slim
RUN pip install --no-cache-dir torch==2.6.0 "transformers==4.51.3" -r requirements.txt \
    --extra-index-url https://download.pytorch.org/whl/cu124 ./wheels/app-1.0-py3-none-any.whl
