#!/usr/bin/env bash
# Debian's Chromium and CJK fonts: the web console's browser tests drive Chromium, and
# `fundwatch report --format pdf` prints the HTML report with it. Chinese text needs the fonts.
set -euo pipefail
exec bash "$(dirname -- "${BASH_SOURCE[0]}")/../debian-packages.sh" chromium fonts-noto-cjk
