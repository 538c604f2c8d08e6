# syntax=docker/dockerfile:1
# The agentwarden image: `controller` and `sidecar` (and `check`/`test`) of bin/agentwarden, its entrypoint.
#
#   docker build -f docker/agentwarden.Dockerfile -t docker.io/agentwarden/agentwarden:0.1.0 .
#
# Build context: the repository root. docker/agentwarden.Dockerfile.dockerignore keeps
# node_modules, dist, .cache (the local cluster's Go binaries) and .git out of it (BuildKit
# reads <Dockerfile>.dockerignore next to the Dockerfile; no root .dockerignore is needed).

# Node 24 as pinned by package.json's `node` devDependency. Alpine: the production
# dependencies are pure JavaScript (no native addons), and a small image matters because every
# agent pod pulls it for its sidecar. Pin the digest for a release:
#   --build-arg NODE_IMAGE=docker.io/library/node:24.21.0-alpine@sha256:<digest>
ARG NODE_IMAGE=docker.io/library/node:24.21.0-alpine

# --- build: every dependency, tsc, then only the runtime's JavaScript -----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the install scripts only fetch tools the image does not use (the `node`
# package's own Node binary, buf; proto/gen is committed), and no third-party script runs.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY common common
COPY policy policy
COPY cli cli
COPY sidecar sidecar
COPY controller controller
COPY proto/gen proto/gen
# tsc through node directly: node_modules/.bin/node is the `node` package's shim, not
# installed without its script. Tests and source maps are not shipped.
RUN node node_modules/typescript/bin/tsc -p tsconfig.json \
 && find dist -type d -name test -prune -exec rm -rf {} + \
 && find dist -name '*.map' -delete

# --- production node_modules only --------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && rm -rf /root/.npm

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# npm, npx and yarn are not needed at run time: less to patch, less to abuse.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/lib/node_modules/corepack /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module": Node needs it to load dist/ as ES modules.
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/dist dist
# The launcher, so that a pod's sidecar gets the same V8 heap flags as `bin/agentwarden sidecar`
# anywhere else: started as `node dist/cli/src/run.js`, the sidecar peaked at 330 MB under
# h2load against the chart's 128Mi limit. (MALLOC_ARENA_MAX, which it also sets, is a glibc
# setting; Alpine's musl ignores it.) It runs `node` from PATH here.
COPY bin/agentwarden bin/agentwarden
# Numeric non-root user (runAsNonRoot can verify a numeric USER only). Files stay root-owned and
# world-readable: nothing is written under /app, so readOnlyRootFilesystem works (Node writes
# nothing but what the program asks for; the chart mounts an emptyDir on /tmp). The controller
# runs as this user; the injected sidecar runs as the proxy UID (1337, inject.proxyUid), which
# the injector sets in the container's securityContext and the traffic capture exempts: the
# image's user does not decide it.
USER 65532:65532
ENTRYPOINT ["/app/bin/agentwarden"]
