"""Scoring speed of fundwatch's forest against scikit-learn's, on the same fitted forest.

Run by hand (not a test): ``python bench/scoring.py``. For 100 and 200 trees fitted on
20,000 x 40 heavy-tailed rows (max_samples=256), it measures in the same run:
  1. sklearn ``score_samples`` of log1p(rows) one event at a time, and on batches of 1,000
     (the sklearn forest fitted as ``FundraisingForest.fit`` fits its own: on log1p),
  2. ``FundraisingForest.anomaly_score`` one event at a time, and on batches of 1,000,
and prints µs per event for each, the ratios ours/sklearn, the largest score difference,
and the size of the artifact as published on the models topic.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sklearn.ensemble import IsolationForest  # noqa: E402

from models.forest import FundraisingForest  # noqa: E402

N_ROWS, N_FEATURES, BATCH = 20_000, 40, 1_000


def feature_rows(rng: np.random.Generator, n_rows: int) -> np.ndarray:
    """Like the model's features: counts and amounts, many zeros, long tails."""
    counts = rng.poisson(rng.uniform(0.2, 5.0, N_FEATURES), size=(n_rows, N_FEATURES))
    amounts = rng.lognormal(3.0, 2.0, size=(n_rows, N_FEATURES)) * (counts > 0)
    return np.where(np.arange(N_FEATURES) % 2 == 0, counts, amounts).astype(np.float64)


def microseconds_per_event(
    score: Callable[[np.ndarray], np.ndarray], batches: list[np.ndarray]
) -> float:
    score(batches[0])  # warm-up: first-call allocations and imports
    started = time.perf_counter()
    for batch in batches:
        score(batch)
    elapsed = time.perf_counter() - started
    return elapsed * 1e6 / sum(len(batch) for batch in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single-events", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(20261126)
    training = feature_rows(rng, N_ROWS)
    queries = feature_rows(rng, max(args.batches * BATCH, 10 * args.single_events))
    names = [f"feature_{i}" for i in range(N_FEATURES)]
    singles = [queries[i : i + 1] for i in range(args.single_events)]
    our_singles = [queries[i : i + 1] for i in range(10 * args.single_events)]
    batches = [queries[i * BATCH : (i + 1) * BATCH] for i in range(args.batches)]
    our_batches = batches * 4  # ours is fast: more repetitions for a stable figure

    print(f"{N_ROWS:,} x {N_FEATURES} training rows, max_samples=256, batches of {BATCH:,}")
    for n_estimators in (100, 200):
        started = time.perf_counter()
        model = FundraisingForest(
            n_estimators=n_estimators, max_samples=256, feature_names=names
        ).fit(
            training,
            training_period={"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
            record_count=N_ROWS,
        )
        fit_seconds = time.perf_counter() - started
        estimator = IsolationForest(
            n_estimators=n_estimators, max_samples=256, random_state=model.random_state
        ).fit(np.log1p(training))

        def sklearn_scores(rows: np.ndarray, estimator=estimator) -> np.ndarray:
            return -estimator.score_samples(np.log1p(rows))

        figures = {
            "sklearn, one event at a time": microseconds_per_event(sklearn_scores, singles),
            "sklearn, batches of 1,000": microseconds_per_event(sklearn_scores, batches),
            "fundwatch, one event at a time": microseconds_per_event(
                model.anomaly_score, our_singles
            ),
            "fundwatch, batches of 1,000": microseconds_per_event(model.anomaly_score, our_batches),
        }
        difference = np.abs(model.anomaly_score(queries) - sklearn_scores(queries)).max()

        print(
            f"\n{n_estimators} trees (fit + calibration {fit_seconds:.1f} s, "
            f"max depth {model.max_depth_}, {model.trees_.n_nodes:,} nodes)"
        )
        for label, micros in figures.items():
            print(f"  {label:32s} {micros:10.2f} µs/event")
        single = figures["fundwatch, one event at a time"] / figures["sklearn, one event at a time"]
        batch = figures["fundwatch, batches of 1,000"] / figures["sklearn, batches of 1,000"]
        print(f"  ratio ours/sklearn: one at a time {single:.4f}, batches {batch:.4f}")
        print(f"  batch of 1,000: {figures['fundwatch, batches of 1,000'] * BATCH / 1000:.2f} ms")
        print(f"  max |ours - sklearn| over {len(queries):,} rows: {difference:.3g}")
        print(f"  artifact: {len(model.to_bytes()):,} bytes as one models-topic message")


if __name__ == "__main__":
    main()
