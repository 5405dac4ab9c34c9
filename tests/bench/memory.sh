#!/usr/bin/env bash
# Memory of idle nodes: starts the 19-node Landkreis Gießen demo federation
# (deploy/county_demo.sh up to its imports), waits until it is idle, and
# reads every node's /proc/PID/smaps_rollup:
#   Rss      resident pages, shared library pages counted in every process
#   Pss      the process's proportional share (shared pages divided by
#            the processes sharing them): the figure that adds up
#   Private  pages only this process uses (Private_Clean + Private_Dirty)
# Called by tests/bench/run.sh; alone:  tests/bench/memory.sh BUILD_DIR
# Prints "figure<TAB>name<TAB>value<TAB>unit" lines.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:?build dir}"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/fednode-memory.XXXXXX")"
COUNTY_DEMO_SETUP_ONLY=1 "$ROOT/deploy/county_demo.sh" "$BUILD_DIR" "$RUN" >"$RUN/setup.log" 2>&1 ||
  { cat "$RUN/setup.log" >&2; exit 1; }
stop() {
  while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$RUN/pids"
  while read -r pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done <"$RUN/pids"
  rm -rf "$RUN"
}
trap stop EXIT
sleep "${MEMORY_SETTLE_SECONDS:-5}"
# kB of field $2 in process $1's smaps_rollup.
field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/smaps_rollup"; }
rss=() pss=() priv=()
while read -r pid; do
  rss+=("$(field "$pid" Rss)")
  pss+=("$(field "$pid" Pss)")
  priv+=($(($(field "$pid" Private_Clean) + $(field "$pid" Private_Dirty))))
done <"$RUN/pids"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
sum() { printf '%s\n' "$@" | awk '{s += $1} END {print s}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
echo "per node (MB), median of ${#rss[@]}: RSS $(mb "$(median "${rss[@]}")")," \
  "PSS $(mb "$(median "${pss[@]}")"), private $(mb "$(median "${priv[@]}")");" \
  "largest RSS $(mb "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)")" >&2
printf 'figure\tidle_rss_mb\t%s\tMB\n' "$(mb "$(median "${rss[@]}")")"
printf 'figure\tidle_private_mb\t%s\tMB\n' "$(mb "$(median "${priv[@]}")")"
printf 'figure\tdemo_rss_mb\t%s\tMB\n' "$(mb "$(sum "${rss[@]}")")"
printf 'figure\tdemo_pss_mb\t%s\tMB\n' "$(mb "$(sum "${pss[@]}")")"
