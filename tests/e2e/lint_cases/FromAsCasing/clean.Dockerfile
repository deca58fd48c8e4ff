from debian:bookworm-slim as builder
run echo built > /built
