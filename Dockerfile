# The API image. Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY index-templates ./index-templates
COPY ilm-policies ./ilm-policies
USER node
EXPOSE 8080
CMD ["node", "src/main.ts"]
