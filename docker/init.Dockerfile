# syntax=docker/dockerfile:1
# The traffic-capture init container (agentwarden-init): runs the shell script of
# controller/src/inject/capture.ts with `/bin/sh -c`, which needs sh, iptables and ip6tables
# with the nat table, the owner match, REDIRECT and REJECT, and the -w (lock wait) flag.
#
#   docker build -f docker/init.Dockerfile -t docker.io/agentwarden/agentwarden-init:0.1.0 docker
#
# The context can be docker/ (or an empty directory): nothing is copied in.

# Debian slim: its iptables package is iptables 1.8 with the nf_tables backend selected through
# update-alternatives (what current kernels and kube-proxy's default use), and the legacy
# backend still installed (`update-alternatives --set iptables /usr/sbin/iptables-legacy` in a
# derived image for nodes without nf_tables). Pin the digest for a release:
#   --build-arg BASE_IMAGE=docker.io/library/debian:bookworm-slim@sha256:<digest>
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
# Root is required: the injector runs this container as UID 0 with NET_ADMIN and NET_RAW only
# (every other capability dropped), in the pod's network namespace, and it exits once the
# rules are in. iptables writes its lock under /run, so the root file system stays writable
# for this short-lived container (readOnlyRootFilesystem: false in the injected spec).
USER 0:0
# No ENTRYPOINT: the injected container gives `command: [/bin/sh, -c, <script>]`.
CMD ["/bin/sh"]
