# The webhook image: a static (musl) binary on a distroless base, running as non-root.
# Build: docker build -t ghcr.io/helm-hooks/helm-hooks-webhook:v0.1.0 .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p helm-hooks-webhook --target x86_64-unknown-linux-musl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/helm-hooks-webhook /helm-hooks-webhook
COPY LICENSE /LICENSE
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/helm-hooks-webhook"]
CMD ["serve", "--listen=0.0.0.0:8443", "--tls-cert=/etc/helm-hooks/tls/tls.crt", "--tls-key=/etc/helm-hooks/tls/tls.key"]
