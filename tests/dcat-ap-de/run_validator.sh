#!/bin/sh
# Validates one DCAT-AP.de export against the official DCAT-AP.de 2.0 SHACL
# shapes with the offline validator kit of this folder (see SOURCES.md and
# validate/README.md).
#
#   tests/dcat-ap-de/run_validator.sh FILE [validate.js options ...]
#
# The kit is copied (without node_modules) into a cache directory outside the
# source tree, so that `npm ci` never writes into the repository:
#   $FEDNODE_BUILD_DIR/dcat-ap-de   when FEDNODE_BUILD_DIR is set (CTest sets it),
#   ${TMPDIR:-/tmp}/fednode-dcat-ap-de-$(id -u)   otherwise.
# validate/setup.sh (npm ci from package-lock.json + self-test) runs only when
# node_modules is missing or package-lock.json changed since the last run; the
# npm registry is needed that first time only. Concurrent runs (ctest -j) are
# serialised with flock while the copy is refreshed.
#
# Default profile of validate.js: konventionen (DCAT-AP.de 2.0 Spezifikation +
# Konventionen, GovData's delivery profile).
# Exit status: that of validate.js (0 no violations, 1 violations, 2 usage or
# parse error); 3 when the kit cannot be set up.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 FILE [validate.js options ...]" >&2
  exit 2
fi
file=$1
shift
case $file in
  /*) ;;
  *) file=$(pwd)/$file ;;
esac

src=$(cd "$(dirname "$0")" && pwd)
if [ -n "${FEDNODE_BUILD_DIR:-}" ]; then
  cache=$FEDNODE_BUILD_DIR/dcat-ap-de
else
  cache=${TMPDIR:-/tmp}/fednode-dcat-ap-de-$(id -u)
fi
mkdir -p "$cache"
# npm's own download cache also stays in the cache directory.
export npm_config_cache="$cache/.npm"

exec 9>"$cache/.lock"
flock -x 9

# Refresh the copy of shapes, vocabularies and validator sources. node_modules
# (if a developer ran setup.sh in the source tree) is never copied.
(cd "$src" && tar --exclude=./validate/node_modules --exclude=./run_validator.sh -cf - .) |
  (cd "$cache" && tar -xf -)

stamp=$cache/validate/node_modules/.fednode-lock.sha256
want=$(sha256sum "$cache/validate/package-lock.json" | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -d "$cache/validate/node_modules" ] || [ "$want" != "$have" ]; then
  echo "run_validator.sh: setting up the validator in $cache (npm ci)" >&2
  if ! sh "$cache/validate/setup.sh" >&2; then
    echo "run_validator.sh: validator setup failed" >&2
    exit 3
  fi
  echo "$want" >"$stamp"
fi

# Others may validate at the same time, but nobody may refresh the copy.
flock -s 9
status=0
node "$cache/validate/validate.js" "$file" "$@" || status=$?
exit "$status"
