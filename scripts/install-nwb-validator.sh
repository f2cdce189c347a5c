#!/usr/bin/env bash
# Installs what scripts/validate-nwb.py needs, from Debian packages only.
#
# Debian 12 (bookworm) has python3-hdmf 3.5.1 but no python3-pynwb. Debian 13
# (trixie) has python3-pynwb 2.8.2 + python3-hdmf 3.14.5, both pure Python and
# working on bookworm's Python 3.11 with bookworm's numpy/h5py/pandas/scipy.
# On bookworm we therefore apt-get install the dependencies and *unpack* (not
# install) the two trixie packages into $AUTOPATCH_NWB_VALIDATOR_DIR, using a
# private apt source list so the system's apt configuration is left alone.
# Where python3-pynwb is installable directly (trixie or later), it is installed.
#
# Usage (as root): bash scripts/install-nwb-validator.sh
set -euo pipefail
DEST=${AUTOPATCH_NWB_VALIDATOR_DIR:-/opt/autopatch/nwb-validator}
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
DEPS=(python3 python3-h5py python3-numpy python3-pandas python3-scipy python3-ruamel.yaml python3-jsonschema python3-dateutil)

if [ -n "$(apt-cache policy python3-pynwb 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}')" ]; then
  apt-get install -y -qq --no-install-recommends "${DEPS[@]}" python3-pynwb
  echo "installed python3-pynwb from the system's apt sources"
  exit 0
fi

apt-get install -y -qq --no-install-recommends "${DEPS[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
# apt drops to user _apt for downloads: let it write here
chmod -R a+rwX "$work"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
APT=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent" -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
apt-get "${APT[@]}" update -qq
(cd "$work" && apt-get "${APT[@]}" download python3-pynwb python3-hdmf)

rm -rf "$DEST"
mkdir -p "$DEST"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$DEST"
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb" >>"$DEST/VERSIONS"
done
echo "unpacked into $DEST: $(paste -sd',' "$DEST/VERSIONS")"
/usr/bin/python3 "$(dirname "$0")/validate-nwb.py" --probe
