from debian:bookworm-slim
run echo lower
cmd ["echo"]
