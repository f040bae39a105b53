#!/usr/bin/env bash
# Builds the pinned OpenTofu CLI and Google provider (Go modules in tofu/ and google-provider/)
# into a cache outside the repository, keyed by tool version, and prints the directory:
#   $RUNYARD_INFRA_TOOLS or ${XDG_CACHE_HOME:-$HOME/.cache}/runyard/infra-tools/
#     tofu@<version>/tofu
#     google@<version>/terraform-provider-google
# A cold build (empty Go module and build caches) took 9m12s on 2 cores; afterwards it is a stat per tool.
set -euo pipefail
shopt -s inherit_errexit
here="$(cd "$(dirname "$0")" && pwd)"
root="${RUNYARD_INFRA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/runyard/infra-tools}"

build() { # build <module dir> <package> <cache name> <binary>
  local dir="$here/$1" pkg="$2" name="$3" bin="$4" version out
  version="$(cd "$dir" && go list -m -f '{{.Version}}' "${pkg%%/cmd/*}")"
  out="$root/$name@$version"
  mkdir -p "$out"
  # One build per tool at a time on this machine: later callers wait, then find the binary.
  exec 9>"$out/.lock"
  flock 9
  if [ ! -x "$out/$bin" ]; then
    echo "building $name $version into $out (cold: several minutes)" >&2
    (cd "$dir" && go build -trimpath -o "$out/$bin.tmp.$$" "$pkg")
    mv -f "$out/$bin.tmp.$$" "$out/$bin"
  fi
  [ -x "$out/$bin" ] || { echo "build.sh: $out/$bin missing after the build" >&2; exit 1; }
  exec 9>&-
  echo "$out"
}

tofu_dir="$(build tofu github.com/opentofu/opentofu/cmd/tofu tofu tofu)"
google_dir="$(build google-provider github.com/hashicorp/terraform-provider-google google terraform-provider-google)"
echo "TOFU=$tofu_dir/tofu"
echo "GOOGLE_PROVIDER_DIR=$google_dir"
