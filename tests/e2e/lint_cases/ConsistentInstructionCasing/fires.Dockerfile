FROM debian:bookworm-slim
run echo lower
RUN echo upper
CMD ["echo"]
