#!/usr/bin/env bash
# The federation port against bare gRPC over the same mutual TLS, and the
# durable audit log on against off. Sets up a holder node (Gießen, 06531005)
# with two synthetic datasets (1,000 and FED_STREAM_ROWS rows, 10 columns),
# an agreement granting Lich (06531011) rows of both, and a bare echo
# server presenting the holder's key and certificate; then runs
# federation_bench as Lich. Called by tests/bench/run.sh with a Release build
# made with -DFEDNODE_BENCH_HOOKS=ON; alone:
#   tests/bench/federation.sh BUILD_DIR
# Prints "figure<TAB>name<TAB>value<TAB>unit" lines (and progress on stderr).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:?build dir}"
ROUNDS="${FED_ROUNDS:-3}"
SECONDS_PER_PHASE="${FED_SECONDS:-3}"
STREAM_ROWS="${FED_STREAM_ROWS:-1000000}"
FEDNODE="$BUILD_DIR/node/server/fednode"
FEDCTL="$BUILD_DIR/node/cli/fedctl"
BENCH="$BUILD_DIR/tests/bench/federation_bench"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/fednode-fedbench.XXXXXX")"
HOLDER=06531005
CALLER=06531011
PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap stop EXIT
log() { echo "federation.sh: $*" >&2; }

"$FEDCTL" pki init-ca --dir "$RUN/ca" --name "Benchmark CA" >/dev/null
for ags in $HOLDER $CALLER; do
  "$FEDCTL" pki issue --ca-dir "$RUN/ca" --ags "$ags" --ip 127.0.0.1 --dns localhost \
    --out-dir "$RUN/$ags/tls" >/dev/null
  cat "$RUN/$ags/tls/node.crt" "$RUN/$ags/tls/chain.crt" >"$RUN/$ags/tls/fullchain.crt"
done

A="$RUN/agreement.textproto"
cat >"$A" <<EOF
agreement {
  agreement_id: "benchmark"
  version: 1
  title: "Benchmark"
  valid_from: "$(date -u -d '-1 day' +%Y-%m-%dT00:00:00Z)"
  valid_until: "$(date -u -d '+1 year' +%Y-%m-%dT00:00:00Z)"
  members { ags: "$HOLDER" name: "Gießen" role: ROLE_MUNICIPALITY endpoint: "127.0.0.1:1" spki_sha256: "$("$FEDCTL" pki pin "$RUN/$HOLDER/tls/node.crt")" }
  members { ags: "$CALLER" name: "Lich" role: ROLE_MUNICIPALITY endpoint: "127.0.0.1:2" spki_sha256: "$("$FEDCTL" pki pin "$RUN/$CALLER/tls/node.crt")" }
  trust_anchors_pem: "$(awk '{printf "%s\\n", $0}' "$RUN/ca/ca.crt")"
  grants { id: "bench-rows" grantees: "$CALLER" holders: "$HOLDER" datasets: "punkte" datasets: "strom" access: ACCESS_ROWS purposes: "benchmark" }
  amendment_rule { kind: KIND_MAJORITY }
}
EOF
for ags in $HOLDER $CALLER; do
  "$FEDCTL" agreement sign "$A" --ags "$ags" --key "$RUN/$ags/tls/node.key" \
    --cert "$RUN/$ags/tls/node.crt" >/dev/null
done
FINGERPRINT=$("$FEDCTL" agreement verify "$A" | awk '/^fingerprint/{print $2}')

d="$RUN/$HOLDER"
cat >"$d/fednode.textproto" <<EOF
member_ags: "$HOLDER"
member_name: "Gießen"
data_dir: "$d/data"
admin_socket: "$d/admin.sock"
federation {
  listen_address: "127.0.0.1:0"
  port_file: "$d/port"
  key_file: "$d/tls/node.key"
  cert_file: "$d/tls/node.crt"
  chain_file: "$d/tls/chain.crt"
  catalog_harvest_interval_seconds: 0
  # The load generator asks far faster than any member would.
  member_rate_limit { per_second: 0 }
}
EOF
ctl() { "$FEDCTL" --socket "$d/admin.sock" "$@"; }
NODE_PID=""
start_node() {  # [env assignments...]
  rm -f "$d/port"
  env "$@" "$FEDNODE" --config "$d/fednode.textproto" 2>>"$d/fednode.log" &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
}
stop_node() {
  kill -TERM "$NODE_PID"
  wait "$NODE_PID" 2>/dev/null || true
}
wait_port() {
  for _ in $(seq 1 100); do [[ -s $1 ]] && break; sleep 0.1; done
  [[ -s $1 ]] || { log "no port in $1"; cat "$d/fednode.log" >&2; exit 1; }
  cat "$1"
}

start_node
ctl agreement install "$A" --fingerprint "$FINGERPRINT" >/dev/null

# Ten columns: id (primary key), a municipality, a year, seven measurements.
cat >"$RUN/spec.textproto" <<'EOF'
dataset_id: "punkte"
csv { encoding: "utf-8" delimiter: "," header_line: 1 }
primary_key: "id"
columns { column { name: "id" type: COLUMN_TYPE_INT64 } }
columns { column { name: "gemeinde" type: COLUMN_TYPE_STRING } }
columns { column { name: "jahr" type: COLUMN_TYPE_INT64 } }
columns { column { name: "w1" type: COLUMN_TYPE_DOUBLE } decimal_separator: "." }
columns { column { name: "w2" type: COLUMN_TYPE_DOUBLE } decimal_separator: "." }
columns { column { name: "w3" type: COLUMN_TYPE_DOUBLE } decimal_separator: "." }
columns { column { name: "w4" type: COLUMN_TYPE_INT64 } }
columns { column { name: "w5" type: COLUMN_TYPE_INT64 } }
columns { column { name: "w6" type: COLUMN_TYPE_INT64 } }
columns { column { name: "w7" type: COLUMN_TYPE_STRING } }
EOF
cat >"$RUN/metadata.textproto" <<'EOF'
title: "Benchmark data"
description: "Synthetic rows for tests/bench/federation.sh."
publisher { name: "Universitätsstadt Gießen" uri: "https://www.giessen.de" }
contact_point { name: "IT" email: "it@giessen.de" }
access_class: ACCESS_CLASS_FEDERATION
EOF
gen() {  # rows
  awk -v n="$1" 'BEGIN {
    srand(42); print "id,gemeinde,jahr,w1,w2,w3,w4,w5,w6,w7"
    split("Gießen,Lich,Hungen,Linden,Pohlheim,Buseck,Laubach,Grünberg", g, ",")
    for (i = 1; i <= n; i++)
      printf "%d,%s,%d,%.2f,%.3f,%.1f,%d,%d,%d,k%d\n", i, g[1 + i % 8], 2000 + i % 25,
        rand() * 1000, rand(), rand() * 100, int(rand() * 1e6), i % 97, int(rand() * 50), i % 1000
  }'
}
gen 1000 >"$RUN/punkte.csv"
gen "$STREAM_ROWS" >"$RUN/strom.csv"
for ds in punkte strom; do
  ctl import --dataset "$ds" --schema "$RUN/spec.textproto" --metadata "$RUN/metadata.textproto" \
    "$RUN/$ds.csv" >/dev/null
done
rm -f "$RUN/strom.csv"
NODE_PORT=$(wait_port "$d/port")
# RocksDB compacts the imported rows in the background for a while; measure
# once the node is idle (under 5 % of a core for 2 s in a row; at most 120 s).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$NODE_PID/stat"; }
idle=0
for _ in $(seq 1 120); do
  t0=$(cpu_ticks); sleep 1; t1=$(cpu_ticks)
  if (((t1 - t0) * 100 < 5 * $(getconf CLK_TCK))); then
    idle=$((idle + 1)); ((idle >= 2)) && break
  else
    idle=0
  fi
done

"$BENCH" echo-server --key "$d/tls/node.key" --cert "$d/tls/fullchain.crt" \
  --port-file "$RUN/echo.port" &
ECHO_PID=$!
PIDS+=("$ECHO_PID")
ECHO_PORT=$(wait_port "$RUN/echo.port")

common=(--node "127.0.0.1:$NODE_PORT" --echo "127.0.0.1:$ECHO_PORT"
  --key "$RUN/$CALLER/tls/node.key" --cert "$RUN/$CALLER/tls/fullchain.crt" --ca "$RUN/ca/ca.crt"
  --purpose benchmark --point-sql "SELECT * FROM punkte WHERE id = 500"
  --seconds "$SECONDS_PER_PHASE")
log "point queries and row streams against the echo ($ROUNDS rounds)"
"$BENCH" run "${common[@]}" --rounds "$ROUNDS" --stream-sql "SELECT * FROM strom" \
  --node-pid "$NODE_PID" --echo-pid "$ECHO_PID"

# The audit log on against off: the same point-query load, the node
# restarted between phases, alternating.
log "point-query load with the audit log on and off ($ROUNDS rounds each)"
on=() off=() on_cpu=() off_cpu=()
for r in $(seq 1 "$ROUNDS"); do
  for mode in on off; do
    stop_node
    if [[ $mode == off ]]; then start_node FEDNODE_BENCH_AUDIT_OFF=1; else start_node; fi
    NODE_PORT=$(wait_port "$d/port")
    common[1]="127.0.0.1:$NODE_PORT"
    t0=$(cpu_ticks)
    rate=$("$BENCH" run "${common[@]}" --rounds 1 --only-load 2>/dev/null |
      awk -F'\t' '$2 == "point_calls_per_s" {print $3}')
    t1=$(cpu_ticks)
    # The node's CPU (its whole process, over the echo and the node phase;
    # idle during the echo's) per point query answered.
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v r="$rate" \
      -v s="$SECONDS_PER_PHASE" 'BEGIN {printf "%.0f", t / hz * 1e6 / (r * s)}')
    if [[ $mode == on ]]; then on+=("$rate") on_cpu+=("$cpu"); else off+=("$rate") off_cpu+=("$cpu"); fi
  done
done
grep -q "BENCHMARK BUILD: FEDNODE_BENCH_AUDIT_OFF" "$d/fednode.log" ||
  { log "fednode was not built with FEDNODE_BENCH_HOOKS: the audit could not be switched off"; exit 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
log "audit on calls/s: ${on[*]}; off: ${off[*]}"
log "node CPU us per call, audit on: ${on_cpu[*]}; off: ${off_cpu[*]}"
printf 'figure\taudit_on_calls_per_s\t%s\tcalls/s\n' "$(median "${on[@]}")"
printf 'figure\taudit_off_calls_per_s\t%s\tcalls/s\n' "$(median "${off[@]}")"
printf 'figure\taudit_on_cpu_us_per_call\t%s\tus\n' "$(median "${on_cpu[@]}")"
printf 'figure\taudit_off_cpu_us_per_call\t%s\tus\n' "$(median "${off_cpu[@]}")"
