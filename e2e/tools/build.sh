#!/usr/bin/env bash
# Build the e2e control-plane binaries, and the test tools, from pinned Go modules into .cache/bin/.
#
#   e2e/tools/build.sh                 # every binary
#   e2e/tools/build.sh kubectl helm    # just these
#   e2e/tools/build.sh h2spec          # what make test-unit needs (HTTP/2 conformance, sidecar/test/h2spec.test.ts)
#
# Each binary is built from its own small Go module under e2e/tools/<module>/ (go.mod holds
# the pin, go.sum the checksums, a `tool` directive the command). One module per tool, not one
# for all: the tools pin different versions of shared dependencies (k8s.io/client-go,
# OpenTelemetry, gRPC) and a single module would force them onto one version by MVS.
#
# A binary is rebuilt only when its stamp (.cache/bin/.stamps/<name>) differs from what would
# be built now: the package, the module pin, the hash of the tool module's go.mod and go.sum,
# the Go version and the flags. Builds run under `nice` so they do not starve the other work
# on a small machine; Go's build and module caches make a rebuild after a pin bump incremental.
#
# Environment: E2E_BIN_DIR (default <repo>/.cache/bin), E2E_NICE (default 10), GO (default go).
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$tools_dir/../.." && pwd)
bin_dir=${E2E_BIN_DIR:-$repo_root/.cache/bin}
stamp_dir=$bin_dir/.stamps
nice_level=${E2E_NICE:-10}
GO=${GO:-go}

# name | tool module dir | package | pinned module
targets=(
  "etcd|etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3"
  "kube-apiserver|kubernetes|k8s.io/kubernetes/cmd/kube-apiserver|k8s.io/kubernetes"
  "kubectl|kubernetes|k8s.io/kubernetes/cmd/kubectl|k8s.io/kubernetes"
  "helm|helm|helm.sh/helm/v3/cmd/helm|helm.sh/helm/v3"
  "jaeger|jaeger|github.com/jaegertracing/jaeger/cmd/jaeger|github.com/jaegertracing/jaeger"
  "h2spec|h2spec|github.com/summerwind/h2spec/cmd/h2spec|github.com/summerwind/h2spec"
  "prometheus|prometheus|github.com/prometheus/prometheus/cmd/prometheus|github.com/prometheus/prometheus"
  "promtool|prometheus|github.com/prometheus/prometheus/cmd/promtool|github.com/prometheus/prometheus"
)

# Go build tags per binary. Prometheus and promtool: remove_all_sd drops every service-discovery
# plugin but static and file (the monitoring tests scrape static targets), which halves the build.
build_tags() {
  case $1 in
    prometheus|promtool) printf 'remove_all_sd' ;;
  esac
}

# Version ldflags, so `kubectl version`, `helm version` and `jaeger version` print the release
# instead of v0.0.0 / "unknown". $1 = name, $2 = module version, $3 = module release time (UTC).
version_ldflags() {
  local name=$1 version=$2 date=$3
  case $name in
    kube-apiserver|kubectl)
      [[ $version =~ ^v([0-9]+)\.([0-9]+)\. ]] || return 0
      local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} pkg
      for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        printf -- ' -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.buildDate=%s' \
          "$pkg" "$version" "$pkg" "$major" "$pkg" "$minor" "$pkg" "$date"
      done ;;
    helm)
      printf -- ' -X helm.sh/helm/v3/internal/version.version=%s' "$version" ;;
    jaeger)
      # Jaeger tags every release twice: v1.N.P for the Go module, v2.(N-63).P for the v2
      # binary (v1.76.0 / v2.13.0). The binary reports the v2 name.
      if [[ $version =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] && (( BASH_REMATCH[1] >= 63 )); then
        version="v2.$((BASH_REMATCH[1] - 63)).${BASH_REMATCH[2]}"
      fi
      printf -- ' -X github.com/jaegertracing/jaeger/internal/version.latestVersion=%s' "$version"
      printf -- ' -X github.com/jaegertracing/jaeger/internal/version.date=%s' "$date" ;;
    h2spec)
      # v2.2.1+incompatible: the tag predates Go modules. `h2spec --version` prints "2.2.1 (v2.2.1+incompatible)".
      local release=${version#v}
      printf -- ' -X main.VERSION=%s -X main.COMMIT=%s' "${release%%+*}" "$version" ;;
    prometheus|promtool)
      # The Go module is tagged v0.3MM.P for Prometheus 3.MM.P (v0.316.0 is 3.16.0).
      if [[ $version =~ ^v0\.3([0-9][0-9])\.([0-9]+)$ ]]; then
        version="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
      fi
      printf -- ' -X github.com/prometheus/common/version.Version=%s' "${version#v}"
      printf -- ' -X github.com/prometheus/common/version.BuildDate=%s' "$date"
      printf -- ' -X github.com/prometheus/common/version.Branch=module' ;;
  esac
}

want=("$@")
selected() {
  (( ${#want[@]} == 0 )) && return 0
  local w; for w in "${want[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1
}
for w in "${want[@]}"; do
  found=0
  for t in "${targets[@]}"; do [[ ${t%%|*} == "$w" ]] && found=1; done
  (( found )) || { echo "build.sh: unknown binary '$w' (known: etcd kube-apiserver kubectl helm jaeger h2spec prometheus promtool)" >&2; exit 2; }
done

mkdir -p "$bin_dir" "$stamp_dir"
# Two concurrent `make e2e-tools` would race on the same outputs: serialise them.
exec 9>"$bin_dir/.build.lock"
flock 9

go_version=$("$GO" env GOVERSION)
total_start=$SECONDS
built=0
for t in "${targets[@]}"; do
  IFS='|' read -r name moddir pkg module <<<"$t"
  selected "$name" || continue
  dir=$tools_dir/$moddir
  read -r version date < <(cd "$dir" && "$GO" list -mod=readonly -m -f '{{.Version}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$module")
  [[ -n ${version:-} ]] || { echo "build.sh: cannot read the pin of $module in $dir/go.mod" >&2; exit 1; }
  ldflags="-s -w$(version_ldflags "$name" "$version" "$date")"
  tags=$(build_tags "$name")
  sums=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
  stamp="$pkg@$version
module-files $sums
$go_version
-trimpath -ldflags '$ldflags'${tags:+ -tags $tags}"
  out=$bin_dir/$name
  if [[ -x $out && -f $stamp_dir/$name ]] && [[ $(<"$stamp_dir/$name") == "$stamp" ]]; then
    echo "build.sh: $name up to date ($pkg@$version)"
    continue
  fi
  echo "build.sh: building $name ($pkg@$version, $go_version)..."
  start=$SECONDS
  # -mod=readonly: the build never edits the pins; a missing go.sum line is an error.
  (cd "$dir" && nice -n "$nice_level" "$GO" build -mod=readonly -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv -f "$out.tmp" "$out"
  printf '%s\n' "$stamp" >"$stamp_dir/$name"
  echo "build.sh: built $name in $((SECONDS - start))s -> ${out#"$repo_root"/}"
  built=$((built + 1))
done
echo "build.sh: done in $((SECONDS - total_start))s ($built built)"
