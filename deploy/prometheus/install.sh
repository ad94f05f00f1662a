#!/usr/bin/env bash
# Debian's Prometheus (the server and promtool): `make test` unit-tests the alerting rules with
# `promtool test rules` and the integration tests scrape a real worker with the server.
# Runs apt-get only when something is missing (as root, or with sudo when it exists).
# The package's own service is not needed: the tests start the binary on a free port, with
# their own config and storage. (Where services start on install, Debian's starts one on 9090.)
set -euo pipefail
PACKAGES=(prometheus)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
as_root=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || {
        echo "install.sh: need root (or sudo) to install ${missing[*]}" >&2
        exit 1
    }
    as_root=(sudo)
fi
echo "installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
# Another install (the browser's) may hold the dpkg lock: wait for it rather than fail.
apt=(apt-get -o DPkg::Lock::Timeout=600)
"${as_root[@]}" "${apt[@]}" update -qq
"${as_root[@]}" "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
