FROM debian:bookworm-slim
RUN echo one \
# a comment inside a continuation is fine
    && echo two
