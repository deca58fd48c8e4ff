FROM node:20.11-slim
RUN npm install -g typescript@5.4.5 @angular/cli@17.3.0 && npm ci
