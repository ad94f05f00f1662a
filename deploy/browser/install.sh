#!/usr/bin/env bash
# Debian's Chromium and CJK fonts: the web console's browser tests drive Chromium, and
# `fundwatch report --format pdf` prints the HTML report with it. Chinese text needs the fonts.
# Runs apt-get only when something is missing (as root, or with sudo when it exists).
set -euo pipefail
PACKAGES=(chromium fonts-noto-cjk)
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
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
