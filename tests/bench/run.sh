#!/usr/bin/env bash
# The benchmark command (not part of tests/run.sh): builds in Release mode and
# runs the import, scan, audit-log and county fan-out benchmarks, each beside
# its baseline measured in the same run on the same data, and the node's
# memory under a 10 M-row scan beside its idle RSS. Reports medians of 3
# repetitions (fan-out: p50/p90 of interleaved rounds).
#
#   tests/bench/run.sh                    # 10 M rows (about 700 MB of CSV)
#   FEDNODE_BENCH_ROWS=2000000 tests/bench/run.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
REPS="${REPS:-3}"

"$ROOT/tests/install_deps.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ingest_bench query_bench audit_bench fanout_bench scan_bench fednode fedctl

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rows: ${FEDNODE_BENCH_ROWS:-10000000}; medians of $REPS repetitions; one thread"
common=(--benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true
        --benchmark_display_aggregates_only=true)
echo
echo "== CSV import: ingest::Parse vs raw parses of the same bytes"
"$BUILD_DIR/tests/bench/ingest_bench" "${common[@]}"
echo
echo "== Grouped SUM: query::Execute vs raw in-memory loops over the same values"
"$BUILD_DIR/tests/bench/query_bench" "${common[@]}"
echo
echo "== Audit log: 64 threads appending with fsync (group commit) vs the log off"
"$BUILD_DIR/tests/bench/audit_bench" "${common[@]}"
echo
echo "== County fan-out: aggregate over all 18 members vs over one member (19 nodes on loopback)"
"$ROOT/tests/bench/fanout.sh" "$BUILD_DIR" "${FANOUT_ROUNDS:-200}"
echo
echo "== Scan memory: a node's peak RSS streaming a ${FEDNODE_BENCH_ROWS:-10000000}-row scan vs idle"
"$ROOT/tests/bench/scan_memory.sh" "$BUILD_DIR" "${FEDNODE_BENCH_ROWS:-10000000}"
