#!/usr/bin/env bash
# Fuzzes federation/agreement's ParseAgreement with libFuzzer.
#
# Configures a separate clang build (ASan + libFuzzer; the product itself
# builds with gcc), builds only agreement_fuzz (at most 2 jobs), and runs it
# for FUZZ_SECONDS seconds (default 20) on a seed corpus made from
# deploy/agreement/example.textproto plus a few small inputs.
#
# Environment:
#   FUZZ_SECONDS    run time in seconds (default 20)
#   FUZZ_BUILD_DIR  clang build dir (default <repo>/build-fuzz)
#   CLANGXX         clang++ to use (default clang++-14, else clang++)
# Crashing inputs are kept in $FUZZ_BUILD_DIR/fuzz-artifacts/. Exit status:
# 0 when no crash, leak or timeout was found, otherwise libFuzzer's.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
clangxx=${CLANGXX:-$(command -v clang++-14 || command -v clang++ || true)}
if [[ -z "$clangxx" ]]; then
  echo "run.sh: clang++ not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi
clang=${clangxx/clang++/clang}

cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER="$clang" -DCMAKE_CXX_COMPILER="$clangxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDNODE_SANITIZE=address \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
ninja -C "$build" -j2 agreement_fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/seeds" "$build/fuzz-artifacts"
cp "$src/deploy/agreement/example.textproto" "$work/seeds/example.textproto"
printf 'agreement { agreement_id: "kv" version: 1 }\n' >"$work/seeds/small.textproto"
printf 'agreement {\n  grants { id: "g" grantees: "*" row_filter: "jahr >= 2015 AND name LIKE %s" }\n}\n' \
  "'G%'" >"$work/seeds/grant.textproto"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
"$build/tests/fuzz/agreement_fuzz" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -dict="$src/tests/fuzz/agreement.dict" \
  -artifact_prefix="$build/fuzz-artifacts/" \
  "$work/corpus" "$work/seeds"
