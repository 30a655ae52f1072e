#!/bin/sh
# ensure-apt.sh PKG... : make sure Debian/Ubuntu packages are installed.
# As root: installs the missing ones (non-interactive). Otherwise: prints the exact apt line and fails.
set -eu
missing=""
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Porchlight needs these system packages (names for Debian/Ubuntu):$missing" >&2
  exit 1
fi
if [ "$(id -u)" = "0" ]; then
  echo "Installing system packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "Porchlight needs system packages. Run this once, then try again:" >&2
  echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
