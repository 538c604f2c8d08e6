#!/usr/bin/env bash
# Build the pod harness's Go upstream (stdlib only) into ${E2E_BIN_DIR:-<repo>/.cache/bin}/gojson-upstream.
# Rebuilt only when its stamp (.stamps/gojson-upstream: hash of go.mod and the .go files, the Go
# version, the flags) differs, as e2e/tools/build.sh does for the tools.
#
# Environment: E2E_BIN_DIR (default <repo>/.cache/bin), GO (default go).
set -euo pipefail

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$src_dir/../../.." && pwd)
bin_dir=${E2E_BIN_DIR:-$repo_root/.cache/bin}
stamp_dir=$bin_dir/.stamps
GO=${GO:-go}
name=gojson-upstream
flags="-trimpath -ldflags=-s -w"

mkdir -p "$bin_dir" "$stamp_dir"
exec 9>"$bin_dir/.build-$name.lock"
flock 9

mapfile -t sources < <(cd "$src_dir" && find . -maxdepth 1 \( -name go.mod -o -name '*.go' ! -name '*_test.go' \) -print | LC_ALL=C sort)
sums=$(cd "$src_dir" && cat "${sources[@]}" | sha256sum | cut -c1-16)
stamp="$name sources $sums
$("$GO" env GOVERSION)
$flags"
out=$bin_dir/$name
if [[ -x $out && -f $stamp_dir/$name ]] && [[ $(<"$stamp_dir/$name") == "$stamp" ]]; then
  echo "build.sh: $name up to date"
  exit 0
fi
start=$SECONDS
(cd "$src_dir" && "$GO" build -mod=readonly -trimpath -ldflags='-s -w' -o "$out.tmp" .)
mv -f "$out.tmp" "$out"
printf '%s\n' "$stamp" >"$stamp_dir/$name"
echo "build.sh: built $name in $((SECONDS - start))s -> $out"
