#!/usr/bin/env bash
# Checks the operator's deploy files as far as this machine can (it has no
# container engine and no running systemd):
#  - deploy/install.sh stages binaries, unit, config with the right modes;
#  - the systemd unit passes `systemd-analyze verify`;
#  - the Kubernetes manifest parses and probes through `fedctl health`;
#  - the Containerfile builds with tests/install_deps.sh (the script
#    tests/run.sh uses) and its runtime stage installs exactly the Debian
#    packages of the shared libraries the built binaries link;
#  - `fedctl health` answers SERVING from a running node.
#   tests/deploy/deploy_files_test.sh BUILD_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:?build dir}"
T="$(mktemp -d "${TMPDIR:-/tmp}/fednode-deploy.XXXXXX")"
NODE_PID=""
cleanup() {
  if [[ -n "$NODE_PID" ]]; then kill -TERM "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. install.sh, staged.
DESTDIR="$T/stage" "$ROOT/deploy/install.sh" "$BUILD_DIR" > "$T/install.log"
mode() { stat -c %a "$1"; }
[[ $(mode "$T/stage/usr/local/bin/fednode") == 755 ]] || fail "fednode mode $(mode "$T/stage/usr/local/bin/fednode")"
[[ $(mode "$T/stage/usr/local/bin/fedctl") == 755 ]] || fail "fedctl mode"
[[ $(mode "$T/stage/etc/fednode") == 750 ]] || fail "/etc/fednode mode $(mode "$T/stage/etc/fednode")"
[[ $(mode "$T/stage/etc/fednode/fednode.textproto") == 640 ]] || fail "config mode"
cmp -s "$ROOT/deploy/systemd/fednode.service" "$T/stage/etc/systemd/system/fednode.service" || fail "unit not installed"
grep -q '^data_dir: "/var/lib/fednode"' "$T/stage/etc/fednode/fednode.textproto" || fail "config data_dir"
grep -q '^admin_socket: "/run/fednode/admin.sock"' "$T/stage/etc/fednode/fednode.textproto" || fail "config admin_socket"
"$T/stage/usr/local/bin/fednode" --config "$T/stage/etc/fednode/fednode.textproto" --check-config > "$T/check.out" || true
grep -q "configuration parses (member 06531005" "$T/check.out" || { cat "$T/check.out"; fail "staged config does not parse"; }
# A second run keeps the operator's edited config.
echo "# edited" >> "$T/stage/etc/fednode/fednode.textproto"
DESTDIR="$T/stage" "$ROOT/deploy/install.sh" "$BUILD_DIR" > /dev/null
tail -n 1 "$T/stage/etc/fednode/fednode.textproto" | grep -q "# edited" || fail "install.sh replaced an existing config"
echo "ok: install.sh stages binaries, unit and config (modes 755/750/640), keeps an edited config"

# 2. The unit, with its paths pointing at the staged binaries.
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/local/bin/|$T/stage/usr/local/bin/|g" "$ROOT/deploy/systemd/fednode.service" > "$T/fednode.service"
  if ! systemd-analyze verify "$T/fednode.service" > "$T/verify.out" 2>&1; then
    cat "$T/verify.out"; fail "systemd-analyze verify"
  fi
  for key in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes "CapabilityBoundingSet=$" \
             StateDirectory=fednode RuntimeDirectory=fednode Restart=on-failure "ExecReload=/bin/kill -HUP"; do
    grep -qE "^$key" "$ROOT/deploy/systemd/fednode.service" || fail "unit lacks $key"
  done
  echo "ok: systemd-analyze verify passes; hardening settings present"
else
  echo "skip: systemd-analyze not installed"
fi

# 3. The Kubernetes manifest.
python3 - "$ROOT/deploy/kubernetes/fednode.yaml" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = [d["kind"] for d in docs]
assert kinds == ["ConfigMap", "Service", "StatefulSet"], kinds
sts = docs[2]["spec"]
pod = sts["template"]["spec"]
c = pod["containers"][0]
for probe in ("readinessProbe", "livenessProbe"):
    cmd = c[probe]["exec"]["command"]
    assert cmd[0] == "/usr/local/bin/fedctl" and cmd[-1] == "health", cmd
assert pod["securityContext"]["runAsNonRoot"] is True
assert c["securityContext"]["allowPrivilegeEscalation"] is False
assert sts["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
assert any(v.get("secret", {}).get("secretName") == "fednode-tls" for v in pod["volumes"])
print("ok: the Kubernetes manifest parses; probes call fedctl health; non-root; PVC and Secret")
PY

# 4. The Containerfile: same install script; runtime packages = the linked libraries'.
CF="$ROOT/deploy/container/Containerfile"
grep -q "tests/install_deps.sh" "$CF" || fail "Containerfile does not build with tests/install_deps.sh"
grep -q '^USER fednode' "$CF" || fail "Containerfile runs as root"
grep -A1 '^HEALTHCHECK' "$CF" | grep -q '"health"' || fail "Containerfile has no gRPC health check"
want=$(for l in $(ldd "$BUILD_DIR/node/server/fednode" "$BUILD_DIR/node/cli/fedctl" | awk '/=>/ {print $3}' | sort -u); do
         dpkg -S "$(readlink -f "$l")" 2>/dev/null | cut -d: -f1; done | grep -v -e '^libc6$' -e '^libgcc-s1$' -e '^libstdc++6$' | sort -u)
have=$(sed -n '/^FROM debian:12-slim/,$p' "$CF" | grep -oE 'lib[a-z0-9.+-]+' | sort -u)
missing=$(comm -23 <(echo "$want") <(echo "$have"))
[[ -z "$missing" ]] || fail "Containerfile runtime stage lacks packages: $missing"
echo "ok: the Containerfile builds with tests/install_deps.sh and installs every runtime library package"

# 5. fedctl health against a running node.
cat > "$T/node.textproto" <<CFG
member_ags: "06531005"
member_name: "Gießen"
data_dir: "$T/data"
admin_socket: "$T/admin.sock"
CFG
"$BUILD_DIR/node/server/fednode" --config "$T/node.textproto" 2> "$T/node.log" &
NODE_PID=$!
for _ in $(seq 1 100); do "$BUILD_DIR/node/cli/fedctl" --socket "$T/admin.sock" status > /dev/null 2>&1 && break; sleep 0.1; done
out=$("$BUILD_DIR/node/cli/fedctl" --socket "$T/admin.sock" health) || fail "fedctl health exit $?"
[[ "$out" == SERVING ]] || fail "fedctl health said $out"
kill -TERM "$NODE_PID"; wait "$NODE_PID"; NODE_PID=""
set +e; "$BUILD_DIR/node/cli/fedctl" --socket "$T/admin.sock" health > /dev/null 2>&1; rc=$?; set -e
[[ $rc == 3 ]] || fail "fedctl health on a stopped node exited $rc, want 3"
echo "ok: fedctl health answers SERVING (exit 0) from a running node, exit 3 when it is down"
