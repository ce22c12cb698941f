# One image for all four services; docker-compose.yml picks the service with `command`.
#   base:  Node, pnpm, and every package of the lockfile in pnpm's store (a layer that is
#          rebuilt only when pnpm-lock.yaml changes)
#   build: all dependencies from that store, TypeScript compiled to dist/
#   deps:  production dependencies only, from the same store
#   final: production dependencies + compiled output, run as the unprivileged `node` user
# Plain Dockerfile syntax, no BuildKit-only features (`RUN --mount`): docker-compose v1 and
# `docker build` without buildx use the classic builder, which refuses them.

FROM node:24-bookworm-slim AS base
# pnpm without a terminal: plain output, no prompts.
ENV CI=true
# The pnpm of package.json's packageManager (test/docs.test.ts keeps the two equal).
RUN npm install --global pnpm@10.34.8
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY package.json ./
COPY packages/shared/package.json packages/shared/
COPY services/collector/package.json services/collector/
COPY services/watcher/package.json services/watcher/
COPY services/store/package.json services/store/
COPY services/api/package.json services/api/

FROM base AS build
RUN pnpm install --frozen-lockfile --offline
COPY tsconfig.base.json tsconfig.json ./
COPY packages/shared packages/shared
COPY services services
RUN pnpm build

FROM base AS deps
# Without the modules `pnpm fetch` linked (every package, development ones too): production
# packages only, from the store.
RUN rm -rf node_modules && pnpm install --frozen-lockfile --offline --prod

FROM node:24-bookworm-slim AS final
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app /app
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/services/collector/dist services/collector/dist
COPY --from=build /app/services/watcher/dist services/watcher/dist
COPY --from=build /app/services/store/dist services/store/dist
COPY --from=build /app/services/api/dist services/api/dist
COPY docker/healthcheck.mjs docker/healthcheck.mjs
# `docker compose exec api crowsnest-bus`: the bus, one line per message (services/api/src/bus-watch).
RUN printf '#!/bin/sh\nexec node /app/services/api/dist/bus-watch/main.js "$@"\n' >/usr/local/bin/crowsnest-bus \
  && chmod 755 /usr/local/bin/crowsnest-bus
USER node
# Every service rewrites this file with each heartbeat; the healthcheck tests its age (three
# missed beats at the default 15 s interval is unhealthy). Compose overrides it for the api.
ENV CROWSNEST_LIVENESS_FILE=/tmp/crowsnest.alive
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.mjs", "/tmp/crowsnest.alive", "45"]
CMD ["node", "services/api/dist/main.js"]
