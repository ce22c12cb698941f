# Stand-in for debian:<suite>-slim: the debootstrapped base build-stand-ins.sh imports, which is
# already laid out as the official -slim image, plus what this machine's own apt needs: the
# mirror it reaches serves a dated snapshot whose Release files have expired, so, as on the
# host (/etc/apt/apt.conf.d), their age is not checked. A user's Dockerfile needs nothing for it.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN echo 'Acquire::Check-Valid-Until "false";' >/etc/apt/apt.conf.d/99crowsnest-stand-in-snapshot
