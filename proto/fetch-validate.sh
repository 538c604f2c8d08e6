#!/usr/bin/env bash
# Envoy's API imports validate/validate.proto (protoc-gen-validate). The copy
# bundled in @grpc/grpc-js-xds predates StringRules.ignore_empty, which
# envoy/config/core/v3/protocol.proto uses, so buf cannot compile the bootstrap
# API with it. This fetches the pinned release through the Go module proxy and
# places validate.proto under .cache/proto (git-ignored): nothing is copied into
# the repository.
set -euo pipefail
PGV_VERSION=${PGV_VERSION:-v1.3.0}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.cache/proto/protoc-gen-validate/validate
if [[ -f $out/validate.proto && $(cat "$out/.version" 2>/dev/null) == "$PGV_VERSION" ]]; then exit 0; fi
dir=$(go mod download -json "github.com/envoyproxy/protoc-gen-validate@$PGV_VERSION" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
[[ -f $dir/validate/validate.proto ]] || { echo "fetch-validate: no validate.proto in $dir" >&2; exit 1; }
mkdir -p "$out"
cp "$dir/validate/validate.proto" "$out/validate.proto"
chmod u+w "$out/validate.proto"
echo "$PGV_VERSION" > "$out/.version"
