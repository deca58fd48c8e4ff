FROM debian:bookworm-slim
SHELL ["/bin/bash", "-c"]
RUN ln -sf /bin/bash /usr/local/bin/sh-compat
