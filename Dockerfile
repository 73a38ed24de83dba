# syntax=docker/dockerfile:1
#
# The `kokeilu` image: one binary, `kokeilu`, that runs every service (`kokeilu serve te-office`,
# `kokeilu serve trial-area`, `kokeilu serve supervisor`) and the operator commands.
#
#   docker build -t kokeilu:0.1.0 .
#   docker run --rm kokeilu:0.1.0 serve te-office --help
#
# Builder: the official Rust image (gcc for ring and the bundled SQLite; protox compiles proto/
# in Rust, so no protoc). Runtime: distroless cc (glibc, CA certificates, no shell), user nonroot
# (65532). See compose.yaml for the whole system and deploy/k8s for Kubernetes.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS builder
WORKDIR /src
# Manifests, lock file and sources: everything the workspace build reads (.dockerignore keeps
# target/, .tools/ and .kokeilu/ out of the context).
COPY Cargo.toml Cargo.lock ./
COPY proto ./proto
COPY crates ./crates
COPY services ./services
COPY cli ./cli
COPY tests ./tests
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p kokeilu-cli --bin kokeilu \
    && install -D -m 0755 target/release/kokeilu /out/kokeilu

FROM gcr.io/distroless/cc-debian13:nonroot AS runtime
LABEL org.opencontainers.image.title="kokeilu" \
      org.opencontainers.image.description="Kokeilu: TE office, trial area and supervisor services" \
      org.opencontainers.image.licenses="EUPL-1.2"
COPY --from=builder /out/kokeilu /usr/local/bin/kokeilu
# nonroot of the distroless base, numerically so that runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /home/nonroot
# 50051 gRPC (every service), 8080 open statistics (supervisor), 9464 /metrics and /healthz.
EXPOSE 50051 8080 9464
# Services listen on all interfaces inside a container (the defaults are loopback).
ENV KOKEILU_GRPC_LISTEN=0.0.0.0:50051 \
    KOKEILU_ADMIN_LISTEN=0.0.0.0:9464 \
    KOKEILU_STATS_LISTEN=0.0.0.0:8080 \
    KOKEILU_LOG_FORMAT=json
ENTRYPOINT ["kokeilu"]
CMD ["--help"]
