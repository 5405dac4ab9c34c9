#!/usr/bin/env bash
# Scan memory (issue 5: "idle node under 30 MB RSS; a 10 M-row scan stays
# under 200 MB"): imports the benchmarks' generated CSV (bench_csv.h, 10
# columns) into one fednode process, restarts it so that the import's memory
# does not count, and reads the node's RSS from /proc/PID/status:
#   idle       VmRSS after start (nothing queried yet)
#   row scan   VmHWM after SELECT * streamed to a client (scan_bench query)
#   grouped    VmHWM after a grouped SUM, in a freshly started node
# Every call has a deadline; the node is stopped at the end (SIGTERM).
#
#   tests/bench/scan_memory.sh BUILD_DIR [ROWS]     # default 10,000,000
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:?build dir}"
ROWS="${2:-10000000}"
FEDNODE="$BUILD_DIR/node/server/fednode"
FEDCTL="$BUILD_DIR/node/cli/fedctl"
SCAN="$BUILD_DIR/tests/bench/scan_bench"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/fednode-scanmem.XXXXXX")"
PID=""
stop_node() {
  if [[ -n "$PID" ]]; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    PID=""
  fi
}
trap 'stop_node; rm -rf "$RUN"' EXIT

cat >"$RUN/fednode.textproto" <<CFG
member_ags: "06531005"
member_name: "Gießen"
data_dir: "$RUN/data"
admin_socket: "$RUN/admin.sock"
CFG
cat >"$RUN/bench.spec" <<'SPEC'
dataset_id: "bench"
csv { encoding: "utf-8" delimiter: "," header_line: 1 }
columns { column { name: "id" type: COLUMN_TYPE_INT64 } }
columns { column { name: "ags" type: COLUMN_TYPE_STRING } }
columns { column { name: "name" type: COLUMN_TYPE_STRING } }
columns { column { name: "category" type: COLUMN_TYPE_STRING } }
columns { column { name: "population" type: COLUMN_TYPE_INT64 } }
columns { column { name: "area_km2" type: COLUMN_TYPE_DOUBLE } }
columns { column { name: "lat" type: COLUMN_TYPE_DOUBLE } }
columns { column { name: "lon" type: COLUMN_TYPE_DOUBLE } }
columns { column { name: "year" type: COLUMN_TYPE_INT64 } }
columns { column { name: "count" type: COLUMN_TYPE_INT64 } }
SPEC
cat >"$RUN/bench.md" <<'MD'
title: "Benchmark"
description: "Generated rows (tests/bench/bench_csv.h)"
access_class: ACCESS_CLASS_PRIVATE
MD

start_node() {
  "$FEDNODE" --config "$RUN/fednode.textproto" 2>>"$RUN/fednode.log" &
  PID=$!
  for _ in $(seq 1 300); do
    "$FEDCTL" --socket "$RUN/admin.sock" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "fednode did not start:" >&2
  cat "$RUN/fednode.log" >&2
  exit 1
}
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "rows: $ROWS; 10 columns (4 int64, 3 double, 3 string)"
"$SCAN" csv --rows "$ROWS" --out "$RUN/bench.csv"
start_node
t0=$(date +%s.%N)
timeout 1800 "$FEDCTL" --socket "$RUN/admin.sock" import --dataset bench --schema "$RUN/bench.spec" \
  --metadata "$RUN/bench.md" "$RUN/bench.csv" >/dev/null
t1=$(date +%s.%N)
echo "import: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (peak RSS $(mb "$(kib VmHWM)") MB, not part of the figures)"
rm -f "$RUN/bench.csv"
stop_node

start_node
sleep 1
idle=$(kib VmRSS)
echo "idle node:                 VmRSS $(mb "$idle") MB"
out=$(timeout 900 "$SCAN" query --socket "$RUN/admin.sock" --sql "SELECT * FROM bench" --deadline-s 800)
echo "row scan (SELECT *):       VmHWM $(mb "$(kib VmHWM)") MB; $out"
printf 'figure\tscan_rss_mb\t%s\tMB\n' "$(mb "$(kib VmHWM)")"
# A fresh process for the aggregate: freed memory of the scan may stay
# with the allocator and would count as this query's.
stop_node
start_node
sleep 1
out=$(timeout 900 "$SCAN" query --socket "$RUN/admin.sock" \
  --sql "SELECT category, SUM(population) AS p, SUM(area_km2) AS a FROM bench GROUP BY category" \
  --deadline-s 800)
echo "grouped SUM (50 groups):   VmHWM $(mb "$(kib VmHWM)") MB; $out"
printf 'figure\tsum_rss_mb\t%s\tMB\n' "$(mb "$(kib VmHWM)")"
echo "RocksDB data on disk:      $(du -sm "$RUN/data" | cut -f1) MB"
stop_node
