#!/usr/bin/env bash
# Build the benchmark peers and load tools from pinned Go modules into .cache/bin/, and check
# that the Cerbos PDP binary (npm devDependency @cerbos/cerbos-linux-x64) is installed.
#
#   bench/peers/build.sh               # what make bench needs: opa-envoy, loadgen, cerbos check
#   bench/peers/build.sh ghz           # just these (ghz is only for main.js --ghz)
#
# Each Go binary comes from its own small module under bench/peers/<name>/ (go.mod holds the
# pin, go.sum the checksums; a `tool` directive names a third-party command, loadgen is our
# own main package): one module per tool, so the dependency graphs never meet under minimal
# version selection.
#
# A binary is rebuilt only when its stamp (.cache/bin/.stamps/<name>) differs from what would
# be built now: package, module pin, hash of the module's go.mod, go.sum and *.go, Go version,
# flags. Builds run under `nice` and share e2e/tools/build.sh's lock, so two builds never race
# on .cache/bin.
#
# Environment: BENCH_BIN_DIR (default <repo>/.cache/bin), BENCH_NICE (default 10), GO (default go).
set -euo pipefail

peers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$peers_dir/../.." && pwd)
bin_dir=${BENCH_BIN_DIR:-$repo_root/.cache/bin}
stamp_dir=$bin_dir/.stamps
nice_level=${BENCH_NICE:-10}
GO=${GO:-go}

# name | module dir | package | pinned module | version ldflag (%s = module version) | built by default
targets=(
  "opa-envoy|opa-envoy|github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin|github.com/open-policy-agent/opa-envoy-plugin|-X github.com/open-policy-agent/opa/v1/version.Version=%s|1"
  "loadgen|loadgen|.|google.golang.org/grpc||1"
  "authz-floor|authz-floor|.|google.golang.org/grpc||0"
  "ghz|ghz|github.com/bojand/ghz/cmd/ghz|github.com/bojand/ghz|-X main.version=%s|0"
)

want=("$@")
selected() { # name, built-by-default
  if (( ${#want[@]} == 0 )); then [[ ${2:-1} == 1 ]]; return; fi
  local w; for w in "${want[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1
}
for w in "${want[@]}"; do
  found=0
  for t in "${targets[@]}"; do [[ ${t%%|*} == "$w" ]] && found=1; done
  [[ $w == cerbos ]] && found=1
  (( found )) || { echo "build.sh: unknown name '$w' (known: opa-envoy loadgen authz-floor ghz cerbos)" >&2; exit 2; }
done

mkdir -p "$bin_dir" "$stamp_dir"
exec 9>"$bin_dir/.build.lock"
flock 9

go_version=$("$GO" env GOVERSION)
total_start=$SECONDS
built=0
for t in "${targets[@]}"; do
  IFS='|' read -r name moddir pkg module version_flag default <<<"$t"
  selected "$name" "$default" || continue
  dir=$peers_dir/$moddir
  version=$(cd "$dir" && "$GO" list -mod=readonly -m -f '{{.Version}}' "$module")
  [[ -n $version ]] || { echo "build.sh: cannot read the pin of $module in $dir/go.mod" >&2; exit 1; }
  # shellcheck disable=SC2059
  ldflags="-s -w${version_flag:+ $(printf -- "$version_flag" "$version")}"
  sources=("$dir"/*.go)
  [[ -e ${sources[0]} ]] || sources=()
  sums=$(cat "$dir/go.mod" "$dir/go.sum" "${sources[@]}" | sha256sum | cut -c1-16)
  stamp="$pkg ($module@$version)
module-files $sums
$go_version
CGO_ENABLED=0 -trimpath -ldflags '$ldflags'"
  out=$bin_dir/$name
  if [[ -x $out && -f $stamp_dir/$name ]] && [[ $(<"$stamp_dir/$name") == "$stamp" ]]; then
    echo "build.sh: $name up to date ($pkg, $module@$version)"
    continue
  fi
  echo "build.sh: building $name ($pkg, $module@$version, $go_version)..."
  start=$SECONDS
  # -mod=readonly: the build never edits the pins; a missing go.sum line is an error.
  # CGO_ENABLED=0: static binaries; OPA-Envoy then builds without its optional Wasm runtime.
  (cd "$dir" && CGO_ENABLED=0 nice -n "$nice_level" "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv -f "$out.tmp" "$out"
  printf '%s\n' "$stamp" >"$stamp_dir/$name"
  echo "build.sh: built $name in $((SECONDS - start))s -> ${out#"$repo_root"/}"
  built=$((built + 1))
done

if selected cerbos 1; then
  cerbos=$repo_root/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64
  if [[ -x $cerbos ]]; then
    echo "build.sh: cerbos $("$cerbos" --version 2>&1 | head -n1) (npm @cerbos/cerbos-linux-x64)"
  else
    echo "build.sh: $cerbos is missing: add the devDependency @cerbos/cerbos-linux-x64 and run npm ci" >&2
    exit 1
  fi
fi
echo "build.sh: done in $((SECONDS - total_start))s ($built built)"
