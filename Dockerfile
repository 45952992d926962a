# The api and worker images: `docker build --target api` or `--target worker`, as
# dev/images.sh does. They take the binaries compiled on the build host from the build
# context (no image with a Rust toolchain can be pulled where this is built, and the
# images must not carry build tools), on the local base recipe of the runner image
# (runner-image/base.sh: Debian minbase by debootstrap) with CA certificates and the
# Nanum fonts of the evidence PDF. Both run as uid 10002, on a read-only root.
ARG BASE=sage-app-base:bookworm

FROM ${BASE} AS runtime
RUN set -eu; \
    find / -xdev -type f -perm /6000 -exec chmod ug-s {} + ; \
    groupadd --gid 10002 sage; \
    useradd --uid 10002 --gid 10002 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin sage
# The script library the image ships (the sample and the scanners' drivers);
# deployments mount their own over it.
COPY scripts /opt/sage/scripts
ENV SCRIPTS_DIR=/opt/sage/scripts \
    EVIDENCE_FONT_DIR=/usr/share/fonts/truetype/nanum \
    LOG_FORMAT=json
LABEL org.opencontainers.image.source="sage-runner"

FROM runtime AS api
COPY bin/sage-api /usr/local/bin/sage-api
COPY console /opt/sage/console
ENV CONSOLE_DIR=/opt/sage/console \
    API_BIND=0.0.0.0:8080 \
    API_METRICS_BIND=0.0.0.0:9090
USER 10002:10002
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/sage-api"]
LABEL org.opencontainers.image.title="sage-api"

FROM runtime AS worker
COPY bin/sage-worker /usr/local/bin/sage-worker
USER 10002:10002
ENTRYPOINT ["/usr/local/bin/sage-worker"]
LABEL org.opencontainers.image.title="sage-worker"
