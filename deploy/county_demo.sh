#!/usr/bin/env bash
# The Landkreis Gießen federation on real data: the county (AGS 06531) and its
# 18 municipalities (06531001..06531018), each its own fednode process on
# loopback, with a PKI and a cooperation agreement signed by all 19 members.
# Called by deploy/demo.sh after the build; run alone as
#   deploy/county_demo.sh BUILD_DIR RUN_DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
RUN="${2:-${TMPDIR:-/tmp}/fednode-county}"
PORT_BASE="${DEMO_PORT_BASE:-17400}"
# The county's HTTP status page and metrics (loopback only); 0 = any free
# port (tests), written to $RUN/06531/http.port.
HTTP_PORT="${DEMO_HTTP_PORT:-$((PORT_BASE + 64))}"
FEDNODE="$BUILD_DIR/node/server/fednode"
FEDCTL="$BUILD_DIR/node/cli/fedctl"
DATA="$ROOT/deploy/data"
DIRECTORY="$DATA/gemeindeverzeichnis/AuszugGV4QAktuell.csv"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$RUN"
mkdir -p "$RUN"
COUNTY=06531
MEMBERS=("$COUNTY")
for i in $(seq -w 1 18); do MEMBERS+=("065310$i"); done

# Name and population (31.12.2019) of each municipality, read from its row
# of the Destatis directory: "60,63,06,5,31,0005,005,"Gießen, ...", 72.55, 89 802, ..."
declare -A NAME POP
NAME[$COUNTY]="Landkreis Gießen"
POP[$COUNTY]=0
for ags in "${MEMBERS[@]:1}"; do
  row=$(grep -E "^60,[0-9]*,06,5,31,[0-9]*,${ags:5:3}," "$DIRECTORY")
  rest=${row#*,*,*,*,*,*,*,}
  if [[ $rest == \"* ]]; then
    rest=${rest#\"}; name=${rest%%\"*}; rest=${rest#*\",}
  else
    name=${rest%%,*}; rest=${rest#*,}
  fi
  rest=${rest#*,}               # area
  pop=${rest%%,*}; pop=${pop// /}
  NAME[$ags]=$name
  POP[$ags]=$pop
  printf '%s,%s\n' "$ags" "$name" >> "$RUN/members.csv"
  { head -n 1 "$DIRECTORY"; printf '%s\n' "$row"; } > "$RUN/gv_$ags.csv"
done

port_of() { local ags=$1; if [[ $ags == "$COUNTY" ]]; then echo "$PORT_BASE"; else echo $((PORT_BASE + 10#${ags:5:3})); fi; }

step "PKI: a federation CA and 19 node certificates (ECDSA P-256, AGS in the SAN)"
"$FEDCTL" pki init-ca --dir "$RUN/ca" --name "Föderation Landkreis Gießen CA" >/dev/null
for ags in "${MEMBERS[@]}"; do
  "$FEDCTL" pki issue --ca-dir "$RUN/ca" --ags "$ags" --ip 127.0.0.1 --dns localhost \
    --out-dir "$RUN/$ags/tls" >/dev/null
done
echo "CA: $RUN/ca/ca.crt; node keys: $RUN/<AGS>/tls/node.key (mode 0600)"

step "The cooperation agreement, signed by all 19 members"
A="$RUN/agreement.textproto"
{
  echo 'agreement {'
  echo '  agreement_id: "kv-landkreis-giessen"'
  echo '  version: 1'
  echo '  title: "Kooperationsvereinbarung Datenaustausch Landkreis Gießen (Demo)"'
  echo "  valid_from: \"$(date -u -d '-1 day' +%Y-%m-%dT00:00:00Z)\""
  echo "  valid_until: \"$(date -u -d '+2 years' +%Y-%m-%dT00:00:00Z)\""
  for ags in "${MEMBERS[@]}"; do
    role=ROLE_MUNICIPALITY; [[ $ags == "$COUNTY" ]] && role=ROLE_COUNTY
    printf '  members { ags: "%s" name: "%s" role: %s endpoint: "127.0.0.1:%s" spki_sha256: "%s"' \
      "$ags" "${NAME[$ags]}" "$role" "$(port_of "$ags")" "$("$FEDCTL" pki pin "$RUN/$ags/tls/node.crt")"
    [[ ${POP[$ags]} != 0 ]] && printf ' population: %s population_date: "2019-12-31"' "${POP[$ags]}"
    echo ' }'
  done
  printf '  trust_anchors_pem: "%s"\n' "$(awk '{printf "%s\\n", $0}' "$RUN/ca/ca.crt")"
  cat <<'GRANTS'
  # The county may aggregate every member's record of the municipality
  # directory. Destatis publishes these figures per municipality, so a cell
  # of one municipality may be shown (min_cell_count 1); the county applies a
  # stricter threshold where a table needs one.
  grants {
    id: "kreis-gemeindeverzeichnis"
    min_cell_count: 1
    grantee_roles: ROLE_COUNTY
    holders: "*"
    conforms_to: "urn:fednode:schema:gemeindeverzeichnis:v1"
    access: ACCESS_AGGREGATE
    purposes: "regionalstatistik"
  }
  # The county may aggregate the bathing-water measurements of the members
  # that have bathing waters (water temperatures are no personal data).
  grants {
    id: "kreis-badegewaesser"
    min_cell_count: 1
    grantee_roles: ROLE_COUNTY
    holders: "*"
    conforms_to: "urn:fednode:schema:badegewaesser-messung:v1"
    access: ACCESS_AGGREGATE
    purposes: "regionalstatistik"
  }
  # Lich may aggregate Gießen's car-park occupancy for traffic planning.
  grants {
    id: "lich-parkhaus-giessen"
    grantees: "06531011"
    holders: "06531005"
    datasets: "parkhaus_rathaus"
    datasets: "parkhaus_am_bahnhof"
    access: ACCESS_AGGREGATE
    columns: "timestamp"
    columns: "occupied_spaces"
    purposes: "verkehrsplanung"
  }
  # Every member may see every member's catalog entries.
  grants { id: "katalog" grantees: "*" holders: "*" datasets: "*" access: ACCESS_CATALOG }
  disclosure { min_cell_count: 3 }
  amendment_rule { kind: KIND_MAJORITY required_signers: "06531" }
}
GRANTS
} > "$A"
for ags in "${MEMBERS[@]}"; do
  "$FEDCTL" agreement sign "$A" --ags "$ags" --key "$RUN/$ags/tls/node.key" \
    --cert "$RUN/$ags/tls/node.crt" >/dev/null
done
"$FEDCTL" agreement verify "$A" | grep -E '^(agreement|fingerprint|valid|signed by|missing|result)'
FINGERPRINT=$("$FEDCTL" agreement verify "$A" | awk '/^fingerprint/{print $2}')

step "Starting 19 fednode processes on loopback"
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
for ags in "${MEMBERS[@]}"; do
  d="$RUN/$ags"
  cat > "$d/fednode.textproto" <<CFG
member_ags: "$ags"
member_name: "${NAME[$ags]}"
data_dir: "$d/data"
admin_socket: "$d/admin.sock"
federation {
  listen_address: "127.0.0.1:$(port_of "$ags")"
  key_file: "$d/tls/node.key"
  cert_file: "$d/tls/node.crt"
  chain_file: "$d/tls/chain.crt"
  ${DEMO_FEDERATION_EXTRA:-}
}
CFG
  if [[ $ags == "$COUNTY" ]]; then
    printf 'http {\n  listen_address: "127.0.0.1:%s"\n  port_file: "%s"\n}\n' "$HTTP_PORT" "$d/http.port" \
      >> "$d/fednode.textproto"
  fi
  "$FEDNODE" --config "$d/fednode.textproto" 2> "$d/fednode.log" &
  PIDS+=($!)
done
ctl() { local ags=$1; shift; "$FEDCTL" --socket "$RUN/$ags/admin.sock" "$@"; }
for ags in "${MEMBERS[@]}"; do
  for _ in $(seq 1 100); do ctl "$ags" status >/dev/null 2>&1 && break; sleep 0.1; done
  ctl "$ags" agreement install "$A" --fingerprint "$FINGERPRINT" >/dev/null
done
echo "19 nodes up; agreement kv-landkreis-giessen v1 installed by hand on each (fingerprint $FINGERPRINT)"
for _ in $(seq 1 100); do [[ -s "$RUN/$COUNTY/http.port" ]] && break; sleep 0.1; done
echo "the county's status page while the demo runs: http://127.0.0.1:$(cat "$RUN/$COUNTY/http.port")/ (metrics: /metrics)"

# A member's catalog metadata from a template: @NAME@ and @AGS@ replaced.
metadata_for() {
  local template=$1 ags=$2 out="$RUN/$2/$(basename "${1%.in}")"
  sed -e "s|@NAME@|${NAME[$ags]}|g" -e "s|@AGS@|$ags|g" "$template" > "$out"
  echo "$out"
}

step "Each municipality imports its own record of the municipality directory"
for ags in "${MEMBERS[@]:1}"; do
  ctl "$ags" import --dataset gemeindeverzeichnis --schema "$ROOT/deploy/specs/gemeindeverzeichnis.textproto" \
    --metadata "$(metadata_for "$ROOT/deploy/landkreis/metadata/gemeindeverzeichnis.textproto.in" "$ags")" \
    "$RUN/gv_$ags.csv" >/dev/null
done
echo "18 imports done (one row each, from $DIRECTORY)"

echo
echo "-- Heuchelheim, Hungen, Lich and Wettenberg import their bathing waters (HLUG file, by the lake's city):"
declare -A LAKE_CITY=([06531007]=Heuchelheim [06531008]=Hungen [06531011]=Lich [06531018]=Wettenberg)
BADESEEN="$DATA/hessen/badeseen_hlug_2015.json"
for ags in 06531007 06531008 06531011 06531018; do
  jq --arg city "${LAKE_CITY[$ags]}" '[.[] | select(.city == $city)]' "$BADESEEN" > "$RUN/$ags/badeseen.json"
  echo "$ags ${NAME[$ags]}:"
  ctl "$ags" import --dataset badeseen --schema "$ROOT/deploy/specs/badeseen.textproto" \
    --metadata "$(metadata_for "$ROOT/deploy/landkreis/metadata/badeseen.textproto.in" "$ags")" \
    "$RUN/$ags/badeseen.json" | sed 's/^/  /'
done
ctl 06531005 import --dataset parkhaus_rathaus --schema "$ROOT/deploy/specs/parkhaus_rathaus.textproto" \
  --metadata "$ROOT/deploy/giessen/metadata/parkhaus_rathaus.textproto" "$DATA/giessen/parkleitsystem/rathaus.csv"
ctl 06531005 import --dataset parkhaus_am_bahnhof --schema "$ROOT/deploy/specs/parkhaus_am_bahnhof.textproto" \
  --metadata "$ROOT/deploy/giessen/metadata/parkhaus_am_bahnhof.textproto" "$DATA/giessen/parkleitsystem/am_bahnhof.csv"

if [[ -n "${COUNTY_DEMO_SETUP_ONLY:-}" ]]; then
  # For tests/bench/fanout.sh: leave the federation running, say its pids.
  printf '%s\n' "${PIDS[@]}" > "$RUN/pids"
  trap - EXIT
  exit 0
fi

GV=urn:fednode:schema:gemeindeverzeichnis:v1
agg() { echo; echo "\$ fedctl aggregate $*"; ctl "$COUNTY" aggregate "$@"; }

step "The county's regional statistics (partial aggregates merged, disclosure control, coverage)"
agg --conforms-to $GV --purpose regionalstatistik --by-member \
  "SELECT SUM(bevoelkerung) AS einwohner, SUM(maennlich) AS maennlich, SUM(weiblich) AS weiblich, SUM(flaeche) AS flaeche_km2 FROM gemeindeverzeichnis" \
  | tee "$RUN/population.txt"
echo
echo "-- density (inhabitants per km2 = einwohner / flaeche_km2 of the rows above):"
awk -F'|' '$2 ~ /[0-9]/ { k = $1; gsub(/ /, "", k); e = $3; f = $6; gsub(/ /, "", e); gsub(/ /, "", f);
  if (k == "Total") k = "Landkreis"; printf "  %-10s %8.1f\n", k, e / f }' "$RUN/population.txt"
echo
echo "-- by urbanisation class, stricter: a class of fewer than 3 municipalities is suppressed"
agg --conforms-to $GV --purpose regionalstatistik --threshold-in-members --min-cell-count 3 \
  --store bevoelkerung_verstaedterung --metadata "$ROOT/deploy/landkreis/metadata/bevoelkerung_verstaedterung.textproto" \
  "SELECT verstaedterungbezeichnung, COUNT(*) AS gemeinden, SUM(bevoelkerung) AS einwohner FROM gemeindeverzeichnis GROUP BY verstaedterungbezeichnung"
echo
echo "-- the county's published result: a dataset in its own catalog, exported as DCAT-AP.de"
ctl "$COUNTY" catalog
ctl "$COUNTY" query "SELECT verstaedterungbezeichnung, total, n, einwohner, suppressed FROM bevoelkerung_verstaedterung"
ctl "$COUNTY" catalog export -o "$RUN/county_catalog.ttl"

step "The federation catalog: every node harvests the catalog entries the others let it see"
echo "\$ fedctl catalog --federation --refresh Badegewässer    (on the county node)"
ctl "$COUNTY" catalog --federation --refresh Badegewässer
echo
echo "\$ fedctl catalog --federation --refresh Parkhaus    (on Lich's node)"
ctl 06531011 catalog --federation --refresh Parkhaus | awk 'p || /^HOLDER/ { p = 1; print }'

step "Bathing waters of the county: per year the highest water temperature and the measurements at or above 24 °C"
BW=urn:fednode:schema:badegewaesser-messung:v1
agg --conforms-to $BW --purpose regionalstatistik \
  "SELECT EXTRACT(year FROM date) AS jahr, COUNT(*) AS messungen, COUNT(water_temperature) AS mit_temperatur, MAX(water_temperature) AS max_wassertemperatur FROM badeseen_measurements GROUP BY jahr ORDER BY jahr"
agg --conforms-to $BW --purpose regionalstatistik \
  "SELECT EXTRACT(year FROM date) AS jahr, COUNT(*) AS messungen_ab_24_grad FROM badeseen_measurements WHERE water_temperature >= 24 GROUP BY jahr ORDER BY jahr"
echo "(a year missing from the second table had no measurement at or above 24 °C)"

step "Lich asks its neighbour Gießen: mean car-park occupancy by hour (aggregate: granted)"
ctl 06531011 query --peer 06531005 --purpose verkehrsplanung \
  "SELECT EXTRACT(hour FROM timestamp) AS stunde, AVG(occupied_spaces) AS belegt_mittel, COUNT(*) AS messungen FROM parkhaus_am_bahnhof GROUP BY stunde ORDER BY stunde"
echo
echo "-- the same data row by row (not granted):"
ctl 06531011 query --peer 06531005 --purpose verkehrsplanung \
  "SELECT timestamp, occupied_spaces FROM parkhaus_am_bahnhof LIMIT 5" || true
echo
echo "-- Gießen's audit log:"
ctl 06531005 audit tail -n 4
ctl 06531005 audit verify

step "Grünberg (06531006) is stopped; the county asks again"
kill -TERM "${PIDS[6]}"; wait "${PIDS[6]}" 2>/dev/null || true
echo "\$ fedctl peers    (on the county node)"
ctl "$COUNTY" peers | cut -c1-150
agg --conforms-to $GV --purpose regionalstatistik --deadline 10 \
  "SELECT SUM(bevoelkerung) AS einwohner, SUM(flaeche) AS flaeche_km2 FROM gemeindeverzeichnis"

step "Grünberg is started again; the county reaches it without a restart of its own"
d="$RUN/06531006"
"$FEDNODE" --config "$d/fednode.textproto" 2>> "$d/fednode.log" &
PIDS[6]=$!
for _ in $(seq 1 100); do ctl 06531006 status >/dev/null 2>&1 && break; sleep 0.1; done
started=$(date +%s%N)
for _ in $(seq 1 30); do ctl "$COUNTY" ping 06531006 >/dev/null 2>&1 && break; sleep 0.5; done
echo "reconnected after $((($(date +%s%N) - started) / 1000000)) ms (peer channels back off from 0.5 s up to 10 s, with jitter)"
echo
echo "-- the county asks Grünberg alone for the figures it missed (--members: the result is partial by itself)"
agg --conforms-to $GV --purpose regionalstatistik --members 06531006 \
  "SELECT SUM(bevoelkerung) AS einwohner, SUM(flaeche) AS flaeche_km2 FROM gemeindeverzeichnis"
echo
echo "-- and the whole county again:"
agg --conforms-to $GV --purpose regionalstatistik --deadline 10 \
  "SELECT SUM(bevoelkerung) AS einwohner, SUM(flaeche) AS flaeche_km2 FROM gemeindeverzeichnis"

step "Stopping all nodes"
stop_all
trap - EXIT
echo "logs: $RUN/<AGS>/fednode.log"
