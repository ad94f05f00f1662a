#!/usr/bin/env bash
# Debian's Prometheus (the server and promtool): `make test` unit-tests the alerting rules with
# `promtool test rules` and the integration tests scrape a real worker with the server.
# The package's own service is not needed: the tests start the binary on a free port, with
# their own config and storage. (Where services start on install, Debian's starts one on 9090.)
set -euo pipefail
exec bash "$(dirname -- "${BASH_SOURCE[0]}")/../debian-packages.sh" prometheus
