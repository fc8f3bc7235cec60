# One Concord node. Configure it with CONCORD_* environment variables (the `concord serve`
# flags in upper snake case; see docker-compose.yml) or with flags after `serve`.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so code changes reuse the cached layer. tsx is a runtime dependency:
# Concord runs its TypeScript directly, without a build step.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY tsconfig.json ./

RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
ENV CONCORD_DATA_DIR=/data

# Client HTTP and peer traffic, as in the contract's defaults (compose picks per-node ports).
EXPOSE 7001 7101

# SIGTERM (docker stop) drains and exits cleanly; node is PID 1 here, and concord handles it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/concord.js"]
CMD ["serve"]
