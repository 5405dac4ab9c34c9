#!/usr/bin/env bash
# Installs a built fednode as a system service (Debian 12, as root):
#   /usr/local/bin/fednode, /usr/local/bin/fedctl
#   /etc/fednode/fednode.textproto   (an example, only when none exists)
#   /etc/systemd/system/fednode.service, the system user "fednode"
#   /var/lib/fednode and /run/fednode are made by systemd (StateDirectory,
#   RuntimeDirectory).
#
#   deploy/install.sh [BUILD_DIR]          # default ./build
#   DESTDIR=/tmp/stage deploy/install.sh   # stage into a directory (no user,
#                                          # no systemctl): for packaging and tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
DEST="${DESTDIR:-}"

for bin in node/server/fednode node/cli/fedctl; do
  [[ -x "$BUILD_DIR/$bin" ]] || { echo "install: $BUILD_DIR/$bin is missing; build first (tests/run.sh or cmake --build build)" >&2; exit 2; }
done

install -d -m 0755 "$DEST/usr/local/bin" "$DEST/etc/systemd/system" "$DEST/usr/local/share/doc/fednode"
install -m 0755 "$BUILD_DIR/node/server/fednode" "$BUILD_DIR/node/cli/fedctl" "$DEST/usr/local/bin/"
install -m 0644 "$ROOT/deploy/systemd/fednode.service" "$DEST/etc/systemd/system/fednode.service"
install -m 0644 "$ROOT/README.md" "$DEST/usr/local/share/doc/fednode/README.md"
install -d -m 0750 "$DEST/etc/fednode" "$DEST/etc/fednode/tls"
if [[ ! -e "$DEST/etc/fednode/fednode.textproto" ]]; then
  sed -e 's|^data_dir: .*|data_dir: "/var/lib/fednode"|' \
      -e 's|^admin_socket: .*|admin_socket: "/run/fednode/admin.sock"|' \
      "$ROOT/deploy/giessen/fednode.textproto" > "$DEST/etc/fednode/fednode.textproto"
  chmod 0640 "$DEST/etc/fednode/fednode.textproto"
  echo "install: wrote the example config /etc/fednode/fednode.textproto: edit member_ags, member_name, publisher"
fi

if [[ -n "$DEST" ]]; then
  echo "install: staged into $DEST"
  exit 0
fi
if ! id fednode >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/fednode --no-create-home --shell /usr/sbin/nologin fednode
fi
chgrp -R fednode /etc/fednode
if [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  echo "install: done. Check and start:"
  echo "  sudo -u fednode fednode --config /etc/fednode/fednode.textproto --check-config"
  echo "  systemctl enable --now fednode && fedctl --socket /run/fednode/admin.sock health"
else
  echo "install: done (no running systemd here: start fednode by hand, see README)"
fi
