#!/usr/bin/env bash
# The benchmark command (not part of tests/run.sh): builds in Release mode
# (with the benchmark-only switch FEDNODE_BENCH_HOOKS, in its own build
# directory) and runs every benchmark beside its baseline measured in the
# same run on the same data, then prints one table of figures, baselines,
# ratios and targets. Medians of REPS repetitions (Google Benchmark) or
# rounds (the federation benchmarks); the spread is printed above the table.
#
#   tests/bench/run.sh                    # 10 M rows (about 700 MB of CSV)
#   FEDNODE_BENCH_ROWS=2000000 tests/bench/run.sh
#   BENCH_ONLY=federation tests/bench/run.sh   # one part: ingest, query, point,
#                                              # audit, federation, stream,
#                                              # fanout, memory
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
REPS="${REPS:-3}"
ONLY="${BENCH_ONLY:-}"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/fednode-bench.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

"$ROOT/tests/install_deps.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFEDNODE_BENCH_HOOKS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ingest_bench query_bench point_bench audit_bench \
  fanout_bench federation_bench scan_bench stream_bench fednode fedctl

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rows: ${FEDNODE_BENCH_ROWS:-10000000}; medians of $REPS repetitions; one thread"
common=(--benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true
        --benchmark_display_aggregates_only=true)
touch "$OUT/figures.tsv"
if want ingest; then
  echo
  echo "== CSV import: ingest::Parse vs raw parses of the same bytes"
  "$BUILD_DIR/tests/bench/ingest_bench" "${common[@]}" --benchmark_out="$OUT/ingest.json" \
    --benchmark_out_format=json
fi
if want query; then
  echo
  echo "== Grouped SUM: query::Execute vs raw in-memory loops over the same values"
  "$BUILD_DIR/tests/bench/query_bench" "${common[@]}" --benchmark_out="$OUT/query.json" \
    --benchmark_out_format=json
fi
if want point; then
  echo
  echo "== Point query at the node without gRPC: GetCatalogEntry + OpenSnapshot + Execute"
  "$BUILD_DIR/tests/bench/point_bench" "${common[@]}" --benchmark_out="$OUT/point.json" \
    --benchmark_out_format=json
fi
if want audit; then
  echo
  echo "== Audit log: 64 threads appending with fsync (group commit) vs the log off"
  "$BUILD_DIR/tests/bench/audit_bench" "${common[@]}"
fi
if want federation; then
  echo
  echo "== Federation port vs bare gRPC over the same mTLS; audit log on vs off"
  FED_ROUNDS="${FED_ROUNDS:-$REPS}" "$ROOT/tests/bench/federation.sh" "$BUILD_DIR" |
    tee -a "$OUT/figures.tsv"
fi
if want stream; then
  echo
  echo "== Column batches without the network: built and serialized (node), parsed (peer) vs memcpy"
  "$BUILD_DIR/tests/bench/stream_bench" "${common[@]}" --benchmark_out="$OUT/stream.json" \
    --benchmark_out_format=json
fi
if want fanout; then
  echo
  echo "== County fan-out: aggregate over all 18 members vs over one member (19 nodes on loopback)"
  "$ROOT/tests/bench/fanout.sh" "$BUILD_DIR" "${FANOUT_ROUNDS:-200}" | tee -a "$OUT/figures.tsv"
fi
if want memory; then
  echo
  echo "== Memory: idle nodes of the 19-node demo federation (RSS, PSS, private)"
  "$ROOT/tests/bench/memory.sh" "$BUILD_DIR" | tee -a "$OUT/figures.tsv"
  echo
  echo "== Scan memory: a node's peak RSS streaming a ${FEDNODE_BENCH_ROWS:-10000000}-row scan vs idle"
  "$ROOT/tests/bench/scan_memory.sh" "$BUILD_DIR" "${FEDNODE_BENCH_ROWS:-10000000}" |
    tee -a "$OUT/figures.tsv"
fi
echo
echo "== Summary (medians; ratio = figure / baseline)"
python3 "$ROOT/tests/bench/table.py" "$OUT"
