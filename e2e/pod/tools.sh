#!/usr/bin/env bash
# What the pod harness (e2e/pod) needs besides Node and Envoy: Debian's iptables (the init
# container's capture rules), iproute2 (ip netns, veth) and curl (an agent client). Installed
# with apt when missing; the harness runs as root (it creates network namespaces).
set -euo pipefail
missing=()
command -v iptables >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v curl >/dev/null || missing+=(curl)
if (( ${#missing[@]} > 0 )); then
  [[ $(id -u) == 0 ]] || { echo "pod-tools: ${missing[*]} missing and not root: install them or run as root" >&2; exit 1; }
  echo "pod-tools: installing ${missing[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "pod-tools: $(iptables --version), $(ip -V), $(curl --version | head -n1 | cut -d' ' -f1-2)"
