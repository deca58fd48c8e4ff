FROM debian:bookworm-slim
RUN mkdir -p /srv
# a separate layer on purpose: it changes more often
RUN touch /srv/ready
