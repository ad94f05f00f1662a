#!/usr/bin/env bash
# The quick start's main job (run by `make demo`, which installs first): start the local Kafka
# broker, train a first model on a simulated history and publish it, start one fundwatch
# worker, stream a month of simulated Baoshan bank reports with fundraising schemes in them
# (and a few broken reports), show the leads with their reasons as they appear, open the
# analysts' web console, and write October's monthly report.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB_PORT=${FUNDWATCH_WEB_PORT:-6066}
RATE=${FUNDWATCH_DEMO_RATE:-4000}
RUN_DIR=.fundwatch/demo
mkdir -p "$RUN_DIR"

fundwatch kafka start
fundwatch topics

# A first model, trained on a history the live stream is not part of (another seed, the
# month before). Kept between runs: delete $RUN_DIR/model-first to train again.
if [[ ! -f "$RUN_DIR/model-first/model.json" ]]; then
    echo "Training a first model on a simulated September (about a minute) ..."
    fundwatch simulate --seed 101 --start 2026-09-01 --output "$RUN_DIR/history.jsonl" \
        --truth "$RUN_DIR/history-truth.json" 2>/dev/null
    fundwatch train --input "$RUN_DIR/history.jsonl" --output "$RUN_DIR/model-first" \
        --version first
fi
fundwatch model publish "$RUN_DIR/model-first"

# The analysts' web console: one demo user of the PBOC branch (sees every lead), with a
# password made for this machine and kept in $RUN_DIR (not in the repository).
export FUNDWATCH_CONSOLE_USERS=$PWD/$RUN_DIR/console-users.json
if [[ ! -s "$RUN_DIR/console-password" ]]; then
    python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$RUN_DIR/console-password"
    chmod 600 "$RUN_DIR/console-password"
fi
fundwatch console-user add analyst --department pboc --password-stdin \
    <"$RUN_DIR/console-password" >/dev/null
export FUNDWATCH_CONSOLE_SECRET=${FUNDWATCH_CONSOLE_SECRET:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}

echo "Starting a worker (web port $WEB_PORT, log in $RUN_DIR/worker.log) ..."
fundwatch worker --loglevel info --web-port "$WEB_PORT" --web-host 127.0.0.1 \
    >"$RUN_DIR/worker.log" 2>&1 &
worker_pid=$!
trap 'kill "$worker_pid" 2>/dev/null; wait "$worker_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
    if grep -q "\[^Worker\]: Ready" "$RUN_DIR/worker.log" 2>/dev/null; then break; fi
    if ! kill -0 "$worker_pid" 2>/dev/null; then
        echo "The worker stopped; its log:" >&2
        tail -n 40 "$RUN_DIR/worker.log" >&2
        exit 1
    fi
    sleep 1
done

echo
echo "Web console: http://127.0.0.1:$WEB_PORT/console/  (user analyst, password $(cat "$RUN_DIR/console-password"))"
echo
echo "Leads appear below as the worker raises and revises them (fundwatch leads follow)."
fundwatch leads follow --limit 0 &
leads_pid=$!
trap 'kill "$leads_pid" "$worker_pid" 2>/dev/null; wait "$worker_pid" 2>/dev/null || true' EXIT

echo "Streaming simulated October reports at up to $RATE/s (ground truth: $RUN_DIR/truth.json) ..."
fundwatch simulate --rate "$RATE" --truth "$RUN_DIR/truth.json" 2>"$RUN_DIR/simulate.log" &
simulate_pid=$!
while kill -0 "$simulate_pid" 2>/dev/null; do
    sleep 15
    printf '\n%s  ' "$(date +%T)"
    fundwatch status --web-url "http://127.0.0.1:$WEB_PORT" | tail -n 3 || true
done
wait "$simulate_pid"

echo
echo "A bank sends a file with mistakes in it:"
fundwatch produce deploy/demo/reports-with-errors.jsonl 2>/dev/null

# Let the worker drain what is left, then show the totals and the dead letters.
previous=""
for _ in $(seq 1 60); do
    sleep 2
    current=$(fundwatch status --web-url "http://127.0.0.1:$WEB_PORT")
    [[ "$current" == "$previous" ]] && break
    previous=$current
done
kill "$leads_pid" 2>/dev/null || true
echo
echo "$current"
echo
echo "Leads now on the topic, latest revision of each (fundwatch leads list --lang en):"
fundwatch leads list --limit 3 --lang en
echo
echo "Suspected schemes: leads joined by their money trails (fundwatch schemes list --lang en):"
fundwatch schemes list --limit 3 --lang en
first_scheme=$(fundwatch schemes list --limit 1 --lang en | grep -o 'SC[0-9a-f]\{12\}' | head -n 1 || true)
if [[ -n "$first_scheme" ]]; then
    echo
    echo "The newest scheme, its accounts and the money between them (fundwatch schemes show $first_scheme):"
    fundwatch schemes show "$first_scheme"
fi
echo
echo "Dead letters (the reason, then each error):"
fundwatch dlq --limit 6
echo
echo "The monthly monitoring report for October (fundwatch report --month 2026-10):"
fundwatch report --month 2026-10 --output "$RUN_DIR/report-2026-10.html"
echo
echo "Run it again and every report is recognised as a re-send. Stop the broker with: fundwatch kafka stop"
if [[ -t 0 ]]; then
    echo
    echo "The worker and its console stay up: http://127.0.0.1:$WEB_PORT/console/ (user analyst,"
    echo "password $(cat "$RUN_DIR/console-password")). Mark a lead 核查 and list its account there,"
    echo "then run  fundwatch report --month 2026-10  again: the lead's account shows as listed"
    echo "(statuses count as they stood at the month's end). Press Ctrl-C to stop the worker."
    wait "$worker_pid" || true
fi
