FROM python:3.12-slim
RUN python3 -m pip install requests==2.31.0
