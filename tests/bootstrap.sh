#!/bin/sh
# Installs the Debian packages given as arguments that this machine lacks.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -e
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ]; then
  echo "bootstrap: installing$missing"
  sh -c "export DEBIAN_FRONTEND=noninteractive; $cmd"
else
  echo "bootstrap: missing Debian packages:$missing" >&2
  echo "bootstrap: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
