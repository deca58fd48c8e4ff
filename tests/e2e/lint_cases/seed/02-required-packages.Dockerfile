FROM falai/base:3.11-12.1.0

# Install your application dependencies first
RUN pip install torch transformers your-packages

# ALWAYS install fal packages last to avoid version conflicts
RUN pip install --no-cache-dir \
    boto3==1.35.74 \
    protobuf==4.25.1 \
    pydantic==2.10.6
