FROM python:3.12-slim AS build
RUN echo built > /built

FROM build
