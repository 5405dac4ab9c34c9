#!/usr/bin/env bash
# Installs fednode's build and test dependencies from Debian 12's packages.
# Idempotent: installs only what is missing. Uses sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  libicu-dev nlohmann-json3-dev libcsv-dev libpg-query-dev libcli11-dev
  libcpp-httplib-dev           # the node's local HTTP port: metrics and status page
  clang-14 libclang-rt-14-dev  # tests/fuzz: clang with the libFuzzer runtime
  jq                           # deploy/county_demo.sh: splits the bathing-water file by city
  python3 python3-yaml         # tests/deploy: parses the Kubernetes manifest
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The DCAT-AP.de SHACL check runs on Node.js, and so does the status page's
# browser test (tests/status_page: Playwright drives Debian's headless
# Chromium). Machines that carry Node.js from another source (with npm
# bundled) keep it; otherwise Debian's packages. FEDNODE_SKIP_NODEJS=1 (the
# container's build stage) skips Node.js and Chromium.
if [[ "${FEDNODE_SKIP_NODEJS:-}" != 1 ]]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" ||
    missing+=(chromium)
fi

if ((${#missing[@]} == 0)); then
  echo "install_deps: all build and test dependencies present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
