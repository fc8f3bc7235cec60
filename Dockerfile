# One Concord node. Configure it with CONCORD_* environment variables (the `concord serve`
# flags in upper snake case; see docker-compose.yml) or with flags after `serve`.

# Stage 1: compile src/ to plain JavaScript in dist/concord (scripts/build.js, esbuild: a
# devDependency, so this stage installs them all).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
COPY tsconfig.json ./
RUN node scripts/build.js

# Stage 2: the runtime image, with production dependencies only.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so code changes reuse the cached layer. tsx stays a runtime dependency:
# bin/concord.js falls back to running src/ through it when the build is not the build of src/.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The sources come along with their build: bin/concord.js runs dist/concord only while it is the
# build of exactly these sources (bin/build-freshness.js), and the source maps point into src/.
COPY --from=build /app/bin ./bin
COPY --from=build /app/scripts/build.js ./scripts/build.js
COPY --from=build /app/src ./src
COPY --from=build /app/tsconfig.json ./
COPY --from=build /app/dist/concord ./dist/concord
# Fails the image build unless the node will run the compiled build (and records the mtimes the
# copies got, so each start checks them with a stat per file instead of hashing src/).
RUN node scripts/build.js --check

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
