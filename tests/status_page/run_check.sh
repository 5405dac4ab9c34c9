#!/bin/sh
# Runs check_status_page.js (see there) against a running node's status page.
#
#   tests/status_page/run_check.sh URL SCREENSHOT.png
#
# Like tests/dcat-ap-de/run_validator.sh, the npm package (playwright-core,
# exact version from package-lock.json) is installed into a cache directory
# outside the source tree, so `npm ci` never writes into the repository:
#   $FEDNODE_BUILD_DIR/status_page   when FEDNODE_BUILD_DIR is set (CTest sets it),
#   ${TMPDIR:-/tmp}/fednode-status-page-$(id -u)   otherwise.
# `npm ci` runs only when node_modules is missing or package-lock.json
# changed; the npm registry is needed that first time only. playwright-core
# downloads no browser: the check uses Debian's /usr/bin/chromium
# (tests/install_deps.sh installs it).
# Exit status: that of check_status_page.js; 3 when the package cannot be
# installed; 4 when Chromium is missing.
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 URL SCREENSHOT.png" >&2
  exit 2
fi
browser=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
  echo "run_check.sh: $browser is missing; run tests/install_deps.sh (installs chromium)" >&2
  exit 4
fi

src=$(cd "$(dirname "$0")" && pwd)
if [ -n "${FEDNODE_BUILD_DIR:-}" ]; then
  cache=$FEDNODE_BUILD_DIR/status_page
else
  cache=${TMPDIR:-/tmp}/fednode-status-page-$(id -u)
fi
mkdir -p "$cache"
export npm_config_cache="$cache/.npm"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

exec 9>"$cache/.lock"
flock -x 9
cp "$src/package.json" "$src/package-lock.json" "$src/check_status_page.js" "$cache/"
stamp=$cache/node_modules/.fednode-lock.sha256
want=$(sha256sum "$cache/package-lock.json" | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -d "$cache/node_modules" ] || [ "$want" != "$have" ]; then
  echo "run_check.sh: installing playwright-core in $cache (npm ci)" >&2
  if ! (cd "$cache" && npm ci --no-audit --no-fund --ignore-scripts >&2); then
    echo "run_check.sh: npm ci failed" >&2
    exit 3
  fi
  echo "$want" >"$stamp"
fi
flock -s 9
CHROMIUM=$browser exec node "$cache/check_status_page.js" "$1" "$2"
