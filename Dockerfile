# Portcullis' container image. Node.js 24 runs the TypeScript sources directly (type stripping: no
# build step), and the image holds production dependencies only.
#
#   docker build -t portcullis .                                          # node:24-slim (Docker Hub)
#   docker build --build-arg BASE_IMAGE=registry.example.com/node:24-slim -t portcullis .
#   make image                    # no registry needed: a base assembled from this machine's Node 24
#                                 # (deploy/image/local-base.sh), then this file
#
# BASE_IMAGE runs Portcullis: it needs `node` 24+ on PATH and /bin/sh, readlink, dirname and ln
# (bin/portcullis is a small sh script). BUILD_IMAGE installs the dependencies: it needs npm and
# defaults to BASE_IMAGE. The runtime user is the numeric non-root 65532:65532. The compile-cache stage
# runs node as root on BASE_IMAGE (it starts Portcullis as 65532 and gives the cache to root).
ARG BASE_IMAGE=node:24-slim
ARG BUILD_IMAGE=${BASE_IMAGE}

FROM ${BUILD_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lock file's production dependencies; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${BASE_IMAGE} AS app
WORKDIR /app
ENV NODE_ENV=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY controller ./controller
# bin/portcullis runs node_modules/.bin/node (where `npm ci` puts Node 24 for development); in the
# image that is the base image's node, which must be 24 or later.
RUN node -e 'const major = Number(process.versions.node.split(".")[0]); if (major < 24) { console.error(`Portcullis needs Node.js 24+, the base image has ${process.versions.node}`); process.exit(1); }' \
 && mkdir -p node_modules/.bin \
 && ln -s "$(command -v node)" node_modules/.bin/node

# Node's compile cache (bin/portcullis turns it on in node_modules/.cache/node-compile-cache): filled
# here by one start of `serve` in Kubernetes mode as 65532, with bin/portcullis' own flags, on these
# paths (deploy/image/prime-compile-cache.ts), so that a pod's start reads the type-stripped sources
# and V8's code of its ~1,660 modules instead of stripping and compiling them (BENCHMARKS.md, "Start-up
# in the image"). The entries belong to root and are readable by all: 65532 reads them on a read-only
# root filesystem and cannot change them. Only uid 65532 finds them (Node's cache directory names the
# uid); another uid starts without the cache, as before.
FROM app AS compile-cache
COPY deploy/image/prime-compile-cache.ts deploy/image/unreachable-kubeconfig.ts /prime/
RUN node /prime/prime-compile-cache.ts

FROM app
COPY --from=compile-cache /app/node_modules/.cache /app/node_modules/.cache
USER 65532:65532
# Envoy HTTP ext_authz, forward-auth, admin (/healthz, /readyz, /metrics), Envoy gRPC ext_authz.
EXPOSE 9002 9003 9090 9001
# `serve` without --manifests (or PORTCULLIS_MANIFESTS) and without --kubeconfig is Kubernetes mode
# with the in-cluster configuration; every flag is also a PORTCULLIS_* environment variable.
ENTRYPOINT ["/app/bin/portcullis"]
CMD ["serve"]
