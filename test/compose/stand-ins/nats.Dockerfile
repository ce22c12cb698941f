# Stand-in for the official nats:<version>-alpine image: Debian's nats-server (2.9) with the
# same entrypoint, default configuration and ports, and busybox's sh and wget for healthchecks
# that probe the monitoring port (`wget -q -O /dev/null http://127.0.0.1:8222/healthz`).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN set -eux; \
  apt-get -o Acquire::Check-Valid-Until=false update; \
  apt-get install -y --no-install-recommends nats-server busybox; \
  rm -rf /var/lib/apt/lists/*; \
  ln -s /usr/sbin/nats-server /usr/local/bin/nats-server; \
  ln -s /bin/busybox /usr/local/bin/wget; \
  nats-server --version; wget --help 2>&1 | head -1

COPY nats-server.conf /etc/nats/nats-server.conf
COPY nats-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 4222 6222 8222
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["nats-server", "--config", "/etc/nats/nats-server.conf"]
