#!/usr/bin/env bash
# The demo, from nothing:
#  1. one fednode node for Universitätsstadt Gießen (AGS 06531005) that
#     imports Gießen's real data, prints its catalog, exports the public
#     entries as DCAT-AP.de and answers real queries;
#  2. the Landkreis Gießen federation (deploy/county_demo.sh): 19 nodes with a
#     PKI and a signed agreement; the county's regional statistics with
#     disclosure control and coverage; Lich asking Gießen; a member down.
#
#   deploy/demo.sh              # installs what is missing, builds, runs
#   DEMO_DIR=/tmp/x deploy/demo.sh
#   KEEP_RUNNING=1 deploy/demo.sh   # leave the node running afterwards
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DEMO_DIR="${DEMO_DIR:-${TMPDIR:-/tmp}/fednode-demo}"
DATA="$ROOT/deploy/data"
SPECS="$ROOT/deploy/specs"
META="$ROOT/deploy/giessen/metadata"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing dependencies (Debian packages) and building"
FEDNODE_SKIP_NODEJS=1 "$ROOT/tests/install_deps.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target fednode fedctl
FEDNODE="$BUILD_DIR/node/server/fednode"
FEDCTL="$BUILD_DIR/node/cli/fedctl"

step "Configuring the Gießen node in $DEMO_DIR"
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
CONFIG="$DEMO_DIR/giessen.textproto"
# The status page on any free loopback port (the example's 9464 may be taken).
sed -e "s|^data_dir: .*|data_dir: \"$DEMO_DIR/data\"|" \
    -e "s|^admin_socket: .*|admin_socket: \"$DEMO_DIR/admin.sock\"|" \
    -e "s|^  listen_address: \"127.0.0.1:9464\"|  listen_address: \"127.0.0.1:0\" port_file: \"$DEMO_DIR/http.port\"|" \
    "$ROOT/deploy/giessen/fednode.textproto" > "$CONFIG"
"$FEDNODE" --config "$CONFIG" --check-config

step "Starting fednode"
"$FEDNODE" --config "$CONFIG" 2> "$DEMO_DIR/fednode.log" &
NODE_PID=$!
stop_node() {
  if kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID"
    wait "$NODE_PID" || true
  fi
}
if [[ -z "${KEEP_RUNNING:-}" ]]; then trap stop_node EXIT; fi
fedctl() { "$FEDCTL" --config "$CONFIG" "$@"; }
for _ in $(seq 1 100); do
  if fedctl status >/dev/null 2>&1; then break; fi
  if ! kill -0 "$NODE_PID" 2>/dev/null; then
    cat "$DEMO_DIR/fednode.log"; echo "fednode exited" >&2; exit 1
  fi
  sleep 0.1
done
fedctl status
echo "status page: http://127.0.0.1:$(cat "$DEMO_DIR/http.port")/ (metrics: /metrics)"

step "Importing Gießen's own data (real files, as published)"
# Gießen's record of the Destatis municipality directory: the header and the
# row of AGS 06531005 (land 06, rb 5, kreis 31, gemeinde 005), kept verbatim.
{ head -n 1 "$DATA/gemeindeverzeichnis/AuszugGV4QAktuell.csv"
  grep -E '^60,[0-9]*,06,5,31,[0-9]*,005,' "$DATA/gemeindeverzeichnis/AuszugGV4QAktuell.csv"
} > "$DEMO_DIR/gemeindeverzeichnis_06531005.csv"
fedctl import --dataset gemeindeverzeichnis --schema "$SPECS/gemeindeverzeichnis.textproto" \
  --metadata "$META/gemeindeverzeichnis.textproto" "$DEMO_DIR/gemeindeverzeichnis_06531005.csv"
fedctl import --dataset bundestagswahl_2013 --schema "$SPECS/bundestagswahl_2013.textproto" \
  --metadata "$META/bundestagswahl_2013.textproto" "$DATA/giessen/wahlen/Bundestagswahl-Ergebnisse_2013.CSV"
fedctl import --dataset landtagswahl_2013 --schema "$SPECS/landtagswahl_2013.textproto" \
  --metadata "$META/landtagswahl_2013.textproto" "$DATA/giessen/wahlen/Landtagswahl-Ergebnisse_2013.CSV"
fedctl import --dataset parkhaus_rathaus --schema "$SPECS/parkhaus_rathaus.textproto" \
  --metadata "$META/parkhaus_rathaus.textproto" "$DATA/giessen/parkleitsystem/rathaus.csv"
fedctl import --dataset parkhaus_am_bahnhof --schema "$SPECS/parkhaus_am_bahnhof.textproto" \
  --metadata "$META/parkhaus_am_bahnhof.textproto" "$DATA/giessen/parkleitsystem/am_bahnhof.csv"
echo "-- importing the same file again in replace mode changes nothing:"
fedctl import --dataset parkhaus_rathaus --schema "$SPECS/parkhaus_rathaus.textproto" \
  "$DATA/giessen/parkleitsystem/rathaus.csv"

step "The catalog"
fedctl catalog
echo
fedctl catalog show gemeindeverzeichnis
echo
echo "-- search (umlauts folded): fedctl catalog parkhaus GIESSEN"
fedctl catalog parkhaus GIESSEN

step "DCAT-AP.de export of the public entries"
fedctl catalog export --format turtle -o "$DEMO_DIR/catalog.ttl"
head -n 30 "$DEMO_DIR/catalog.ttl"
echo "... (full export in $DEMO_DIR/catalog.ttl)"

step "Queries"
q() { echo; echo "\$ fedctl query \"$1\""; fedctl query "$1"; }
q "SELECT gemeindename, flaeche, bevoelkerung, maennlich, weiblich, jekm2 FROM gemeindeverzeichnis"
q "SELECT SUM(a1_a2) AS wahlberechtigte, SUM(b) AS waehler, SUM(d) AS gueltige_erststimmen FROM bundestagswahl_2013"
q "SELECT SUM(f1) AS cdu, SUM(f2) AS spd, SUM(f3) AS fdp, SUM(f4) AS gruene, SUM(f5) AS linke, SUM(f6) AS piraten, SUM(f11) AS afd FROM bundestagswahl_2013"
q "SELECT EXTRACT(hour FROM timestamp) AS stunde, AVG(occupied_spaces) AS belegt_mittel, MAX(occupied_spaces) AS belegt_max, COUNT(*) AS messungen FROM parkhaus_am_bahnhof GROUP BY stunde ORDER BY stunde"
q "SELECT nr, bereich, a1_a2 AS wahlberechtigte, f1 AS cdu, f2 AS spd, f4 AS gruene FROM bundestagswahl_2013 WHERE nr < 90000 ORDER BY gruene DESC LIMIT 5"
echo
echo "\$ fedctl query --format csv \"SELECT ...\""
fedctl query --format csv "SELECT max_spaces, COUNT(*) AS messungen FROM parkhaus_rathaus GROUP BY max_spaces ORDER BY max_spaces"

if [[ -n "${KEEP_RUNNING:-}" ]]; then
  echo "the Gießen node keeps running (pid $NODE_PID); stop it with: kill $NODE_PID"
else
  stop_node
  trap - EXIT
fi
echo "node log: $DEMO_DIR/fednode.log"

# Part 2: the whole county as a federation of 19 nodes.
"$ROOT/deploy/county_demo.sh" "$BUILD_DIR" "$DEMO_DIR/county"

step "Done"
echo "logs: $DEMO_DIR/fednode.log (single node), $DEMO_DIR/county/<AGS>/fednode.log (federation)"
