#!/usr/bin/env bash
# The quick start's main job (run by `make demo`, which installs first): start the local Kafka
# broker and one fundwatch worker, stream a month of simulated Baoshan bank reports through it
# (with a few broken ones), and show what flows: accepted, duplicates, dead letters.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB_PORT=${FUNDWATCH_WEB_PORT:-6066}
RATE=${FUNDWATCH_DEMO_RATE:-4000}
RUN_DIR=.fundwatch/demo
mkdir -p "$RUN_DIR"

fundwatch kafka start
fundwatch topics

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

echo "Streaming simulated bank reports at up to $RATE/s (ground truth: $RUN_DIR/truth.json) ..."
fundwatch simulate --rate "$RATE" --truth "$RUN_DIR/truth.json" 2>"$RUN_DIR/simulate.log" &
simulate_pid=$!
while kill -0 "$simulate_pid" 2>/dev/null; do
    sleep 3
    printf '\n%s\n' "$(date +%T)"
    fundwatch status --web-url "http://127.0.0.1:$WEB_PORT" || true
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
echo
echo "$current"
echo
echo "Dead letters (the reason, then each error):"
fundwatch dlq --limit 6
echo
echo "Run it again and every report is recognised as a re-send. Stop the broker with: fundwatch kafka stop"
