FROM registry.example.com/team/base:1.4
RUN mkdir -p /srv
