FROM debian:bookworm-slim
RUN echo one \

    && echo two
