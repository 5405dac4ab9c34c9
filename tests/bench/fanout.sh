#!/usr/bin/env bash
# Fan-out latency: starts the 19-node Landkreis Gießen demo federation
# (deploy/county_demo.sh up to its imports), then measures the county's
# aggregate over all 18 members against the same aggregate over one member,
# interleaved in the same run (tests/bench/fanout_bench.cc). Called by
# tests/bench/run.sh; alone:
#   tests/bench/fanout.sh BUILD_DIR [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:?build dir}"
ROUNDS="${2:-200}"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/fednode-fanout.XXXXXX")"
# The load generator asks far more often than a county would: the members'
# per-member rate limit is switched off for this run.
DEMO_FEDERATION_EXTRA='member_rate_limit { per_second: 0 }' \
COUNTY_DEMO_SETUP_ONLY=1 "$ROOT/deploy/county_demo.sh" "$BUILD_DIR" "$RUN" >"$RUN/setup.log" 2>&1 ||
  { cat "$RUN/setup.log"; exit 1; }
stop() {
  while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$RUN/pids"
  while read -r pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done <"$RUN/pids"
  rm -rf "$RUN"
}
trap stop EXIT
"$BUILD_DIR/tests/bench/fanout_bench" --socket "$RUN/06531/admin.sock" --rounds "$ROUNDS"
