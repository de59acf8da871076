#!/usr/bin/env bash
# Makes the Pulumi engine that matches our @pulumi/pulumi available, and prints
# the directory that holds it (put it first on PATH):
#   pulumi                          the CLI
#   pulumi-language-nodejs          the Node.js language host
#   pulumi-resource-pulumi-nodejs   the launcher of the Node.js dynamic-provider process
#
# In order of preference:
#   1. a `pulumi` already on PATH whose version matches;
#   2. the official installer (for users with internet access);
#   3. a build from the release's Go modules (scripts/engine), which is what
#      happens on machines that reach only the package registries.
# The result is cached in a directory keyed by the version and by the sources
# of step 3, so a second run takes well under a second.
#
# Usage: scripts/install-engine.sh [--quiet]     progress goes to stderr
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quiet=${1:-}
say() { [ "$quiet" = --quiet ] || echo "install-engine: $*" >&2; }

sdk_pkg="$root/node_modules/@pulumi/pulumi/package.json"
if [ ! -f "$sdk_pkg" ]; then
  echo "install-engine: $sdk_pkg is missing: run 'npm ci' first" >&2
  exit 1
fi
version=$(node -p "require('$sdk_pkg').version")
sources_hash=$(cat "$root"/scripts/engine/go.mod "$root"/scripts/engine/go.sum \
  "$root"/scripts/engine/pulumi-language-nodejs/*.go | sha256sum | cut -c1-12)
cache=${LINUXNET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-linuxnet}
dir="$cache/engine-v$version-$sources_hash"
bin="$dir/bin"

if [ -f "$dir/.complete" ]; then
  say "cached engine v$version in $bin"
  echo "$bin"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$bin"
started=$(date +%s)

# The dynamic-provider launcher: the engine starts it for every stack that
# uses dynamic resources; it runs the program's own copy of @pulumi/pulumi.
cat >"$bin/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
script=$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
EOF
chmod +x "$bin/pulumi-resource-pulumi-nodejs"

link_prebuilt() { # $1: directory holding pulumi and pulumi-language-nodejs
  ln -sf "$1/pulumi" "$bin/pulumi"
  ln -sf "$1/pulumi-language-nodejs" "$bin/pulumi-language-nodejs"
}

found=""
if existing=$(command -v pulumi 2>/dev/null) && [ "$(dirname "$existing")" != "$bin" ]; then
  have=$("$existing" version 2>/dev/null || true)
  existing_dir=$(dirname "$(readlink -f "$existing")")
  if [ "$have" = "v$version" ] && [ -x "$existing_dir/pulumi-language-nodejs" ]; then
    say "using pulumi $have from $existing_dir"
    link_prebuilt "$existing_dir"
    found=path
  else
    say "pulumi on PATH is ${have:-unknown}, not v$version: not using it"
  fi
fi

if [ -z "$found" ] && command -v curl >/dev/null; then
  say "trying the official installer"
  if curl -fsSL --max-time 30 https://get.pulumi.com -o "$dir/get-pulumi.sh" 2>/dev/null &&
    sh "$dir/get-pulumi.sh" --version "$version" --install-root "$dir/official" --no-edit-path >&2; then
    link_prebuilt "$dir/official/bin"
    found=official
  else
    say "the official installer cannot download here"
  fi
fi

if [ -z "$found" ]; then
  command -v go >/dev/null || {
    echo "install-engine: no pulumi v$version, no network for the official installer, and no Go toolchain to build it" >&2
    exit 1
  }
  say "building pulumi v$version and its Node.js language host from Go modules (several minutes the first time)"
  ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
  (
    cd "$root/scripts/engine"
    go build -trimpath -ldflags "$ldflags" -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    go build -trimpath -ldflags "-X main.version=$version" -o "$bin/pulumi-language-nodejs" ./pulumi-language-nodejs
  ) >&2
  found=go
fi

got=$("$bin/pulumi" version)
[ "$got" = "v$version" ] || {
  echo "install-engine: built pulumi reports $got, expected v$version" >&2
  exit 1
}
echo "$found $(($(date +%s) - started))s" >"$dir/.complete"
say "pulumi $got ready in $bin ($found, $(($(date +%s) - started)) s)"
echo "$bin"
