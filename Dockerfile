# The api and worker binaries, for docker-compose.yml and Kubernetes. The sandbox image
# that executions run in is runner-image/, built separately.
ARG RUST_IMAGE=rust:1-bookworm
ARG BASE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins

FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates fonts-nanum \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10002 --no-create-home --shell /usr/sbin/nologin sage
COPY --from=build /src/target/release/sage-api /src/target/release/sage-worker /usr/local/bin/
COPY migrations /opt/sage/migrations
USER 10002
