"""What following the money costs the pipeline: the same month with trails and without.

Run by hand (not a test): ``python bench/trails.py [--repeats 3]``. It trains a model on one
simulated month (seed 11), then runs the worker's pipeline (no Kafka) over another (seed 12),
alternately with the default money trails and with trails off (``max_hops=0``: no movement
sent, no outflow kept), and prints the median rate of each and their ratio. The runs
alternate so that a slow spell of a shared machine falls on both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feeds.simulate import Simulation, SimulationConfig, write_jsonl  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from models.pipeline import PipelineConfig  # noqa: E402
from models.trails import TrailPolicy  # noqa: E402
from offline.replay import OfflineRunner, file_messages  # noqa: E402
from offline.training import train, training_set  # noqa: E402

LATENESS_MS = 7_200_000


def rate(messages: list, model: FundraisingForest, policy: TrailPolicy) -> tuple[float, int]:
    """Reports per second through the pipeline, and the linked lead revisions raised."""
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS, trail_policy=policy), model)
    started = time.perf_counter()
    linked = 0
    for outcome in runner.run(messages):
        linked += sum(lead.kind == "linked" for lead in outcome.leads)
    return len(messages) / (time.perf_counter() - started), linked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        history, live = Path(directory) / "history.jsonl", Path(directory) / "live.jsonl"
        write_jsonl(Simulation(SimulationConfig(seed=11)).reports(), history)
        write_jsonl(Simulation(SimulationConfig(seed=12)).reports(), live)
        data = training_set(file_messages(history), LATENESS_MS)
        model = train(data, FundraisingForest(expected_alert_rate=0.01), "bench")
        messages = list(file_messages(live))
    policies = {"trails on": TrailPolicy(), "trails off": TrailPolicy(max_hops=0)}
    rates: dict[str, list[float]] = {name: [] for name in policies}
    linked: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, policy in policies.items():
            measured, linked[name] = rate(messages, model, policy)
            rates[name].append(measured)
    print(f"{len(messages):,} reports, {args.repeats} runs each, alternating")
    for name in policies:
        runs = ", ".join(f"{r:,.0f}" for r in rates[name])
        print(
            f"  {name:10}: median {statistics.median(rates[name]):,.0f} reports/s "
            f"({runs}); {linked[name]} linked lead revisions"
        )
    ratio = statistics.median(rates["trails on"]) / statistics.median(rates["trails off"])
    print(f"  ratio on/off: {ratio:.2f}")


if __name__ == "__main__":
    main()
