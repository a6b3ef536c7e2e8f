# Images for tsmesh: `--target control-plane` (uid 10001), `--target sidecar` (uid 1337, with iptables), `--target examples`.
# Untested here (no Docker engine on the build machines); see docs/kubernetes.md.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# node-gyp needs these for the sidecar's SO_ORIGINAL_DST addon.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Manifests first so that the dependency layer is cached across source changes.
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY control-plane/package.json control-plane/
COPY sidecar/package.json sidecar/
COPY examples/package.json examples/
COPY control-plane/bin control-plane/bin
COPY sidecar/bin sidecar/bin
RUN npm ci
COPY . .
# The addon lands in sidecar/native/build/Release, where `mesh-sidecar run --transparent` looks for it.
RUN npm run build \
 && npm run build:native -w sidecar \
 && npm prune --omit=dev \
 && rm -rf */test bench test-support */dist/.tsbuildinfo

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
COPY --from=build /app /app

FROM node:20-bookworm-slim AS sidecar
# The init step (mesh-sidecar iptables) runs from this image as root with NET_ADMIN; the proxy runs as 1337, which the rules exempt.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# The bundle carries every dependency (decision 0021): no node_modules here. These are the files that
# examples/test/sidecar-bundle.e2e.test.ts runs a mesh from, outside the checkout.
COPY --from=build /app/sidecar/package.json sidecar/package.json
COPY --from=build /app/sidecar/bin sidecar/bin
COPY --from=build /app/sidecar/dist/bundle sidecar/dist/bundle
COPY --from=build /app/sidecar/dist/protos sidecar/dist/protos
# SO_ORIGINAL_DST for transparent mode, where the bundle looks for it (../../native from dist/bundle).
COPY --from=build /app/sidecar/native/build/Release/original_dst.node sidecar/native/build/Release/original_dst.node
RUN ln -s /app/sidecar/bin/mesh-sidecar.js /usr/local/bin/mesh-sidecar
USER 1337:1337
EXPOSE 15000 15001 15006
ENTRYPOINT ["mesh-sidecar"]
CMD ["run"]

FROM runtime AS examples
USER 10001:10001
CMD ["node", "examples/dist/service-main.js", "--help"]

FROM runtime AS control-plane
RUN mkdir -p /var/lib/tsmesh && chown 10001:10001 /var/lib/tsmesh
USER 10001:10001
EXPOSE 15012 15014 15015 15017
ENTRYPOINT ["mesh-control-plane"]
CMD ["serve", "--data-dir", "/var/lib/tsmesh", "--listen", "0.0.0.0:15012", "--http-listen", "0.0.0.0:15014"]
