# Stand-in for the official postgres:<tag> image: Debian's PostgreSQL 15 with the official
# layout (PGDATA=/var/lib/postgresql/data, user postgres uid/gid 999, the server's binaries and
# pg_isready on PATH) and an entrypoint with the official semantics for POSTGRES_PASSWORD,
# POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (and their _FILE
# variants), PGDATA and /docker-entrypoint-initdb.d.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN set -eux; \
  groupadd -r postgres --gid=999; \
  useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \
  mkdir -p /var/lib/postgresql; \
  chown -R postgres:postgres /var/lib/postgresql

ENV PG_MAJOR=15
ENV LANG=C.UTF-8
RUN set -eux; \
  apt-get -o Acquire::Check-Valid-Until=false update; \
  apt-get install -y --no-install-recommends postgresql-common; \
  # The entrypoint creates the cluster in PGDATA, not Debian's postinst in /var/lib/postgresql/15.
  sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
  apt-get install -y --no-install-recommends "postgresql-$PG_MAJOR" gosu; \
  rm -rf /var/lib/apt/lists/*; \
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"; \
  grep -F "listen_addresses = '*'" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"; \
  mkdir -p /var/run/postgresql; \
  chown -R postgres:postgres /var/run/postgresql; \
  chmod 3777 /var/run/postgresql; \
  mkdir /docker-entrypoint-initdb.d

ENV PATH=/usr/lib/postgresql/15/bin:$PATH
ENV PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 1777 "$PGDATA"
VOLUME /var/lib/postgresql/data

COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
