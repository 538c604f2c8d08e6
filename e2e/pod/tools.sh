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

# Python's httpx, one of the agent clients the proxy-env tests drive (with Debian's python3, so that the
# agent's UID can run it: a pyenv interpreter under /root is not readable by other UIDs).
venv=${E2E_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/bin}/../pyagent
want="httpx==0.28.1"
if [[ ! -x $venv/bin/python || $(cat "$venv/.stamp" 2>/dev/null) != "$want" ]]; then
  [[ -x /usr/bin/python3 ]] || { echo "pod-tools: /usr/bin/python3 (Debian python3) is needed for the httpx agent client" >&2; exit 1; }
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want"
  echo "$want" >"$venv/.stamp"
fi
echo "pod-tools: $("$venv/bin/python" -c 'import httpx; print("httpx", httpx.__version__)') in ${venv}"
