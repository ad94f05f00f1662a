"""A supervised ranker learnt from the analysts' verdicts, beside the isolation forest.

The forest knows only what is unusual; analysts know which unusual accounts were illegal
fundraising (confirmed, or handed over as a case) and which were legitimate (closed as not
confirmed: a school at term start, a hospital's takings). ``VerdictRanker`` is a logistic
regression (scikit-learn's, ``class_weight="balanced"``: a few confirmed accounts weigh as much
as many excluded ones) on standardised inputs: log1p of the FEATURE_NAMES row, as the trees
see it, and the forest's anomaly score. It is fitted in scikit-learn's manner (settings in the
constructor, ``fit``, fitted attributes ending in ``_``) but keeps only plain numbers
(``mean_``, ``scale_``, ``coef_``, ``intercept_``), so the model artifact stores it as numbers
and scoring needs numpy only.

Where it acts (models.pipeline): the lead score is the forest's adjusted score plus
``shift(p) = RANKER_WEIGHT * (2p - 1)``, bounded by ``RANKER_WEIGHT`` either way, so the
threshold keeps the forest's meaning: activity like the confirmed accounts' rises, activity like
the excluded ones' falls, by at most as much as the structure and peer adjustments move a score.

Scoring is element-wise per row with a fixed summation order (column after column), so a row's
probability does not depend on the batch it is scored in: the stream and the backtest agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from schemas.errors import FundwatchError

# Like the peer penalty (models.structure.WITHIN_PEERS_PENALTY): enough to move a lead near
# the threshold across it, too little to raise an ordinary account or bury a far outlier.
RANKER_WEIGHT = 0.1
# Fewer accounts of either kind and the ranker would learn the few accounts, not their kind:
# `fundwatch train` then keeps the forest alone (and says why).
MIN_VERDICT_ACCOUNTS = 5
FOREST_SCORE_INPUT = "forest_anomaly_score"  # the last input, after the features
_MAX_LOGIT = 50.0  # exp of more overflows; the probability is 0 or 1 to float precision anyway


class RankerError(FundwatchError, ValueError, http_status=422):
    """Numbers that do not make a ranker (wrong lengths, non-finite values, zero scales)."""


def ranker_input(features: np.ndarray, forest_scores: np.ndarray) -> np.ndarray:
    """The ranker's input rows: log1p of each feature (all >= 0), then the forest's score."""
    matrix = np.asarray(features, dtype=np.float64)
    scores = np.asarray(forest_scores, dtype=np.float64).reshape(-1, 1)
    return np.hstack([np.log1p(np.maximum(matrix, 0.0)), scores])


def ranker_input_names(feature_names: Sequence[str]) -> list[str]:
    return [*feature_names, FOREST_SCORE_INPUT]


class VerdictRanker(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression on standardised ranker inputs; 1 = confirmed, 0 = excluded.

    Settings: ``c`` (LogisticRegression's ``C``) and ``max_iter``. Fitted: ``mean_`` and
    ``scale_`` (the standardisation), ``coef_`` (per input), ``intercept_``."""

    mean_: np.ndarray
    scale_: np.ndarray
    coef_: np.ndarray
    intercept_: float

    def __init__(self, *, c: float = 1.0, max_iter: int = 1000) -> None:
        self.c = c  # LogisticRegression's C: the inverse of the regularisation strength
        self.max_iter = max_iter

    def fit(self, inputs: np.ndarray, labels: np.ndarray) -> VerdictRanker:
        """``inputs``: ``ranker_input`` rows; ``labels``: 1 confirmed, 0 excluded, per row."""
        inputs = np.asarray(inputs, dtype=np.float64)
        labels = np.asarray(labels)
        if inputs.ndim != 2 or len(inputs) != len(labels):
            raise ValueError(f"inputs {inputs.shape} and labels {labels.shape} do not match")
        if set(np.unique(labels).tolist()) != {0, 1}:
            raise ValueError("labels must hold both classes, 0 (excluded) and 1 (confirmed)")
        scaler = StandardScaler().fit(inputs)
        # A constant input has scale 0; StandardScaler leaves it at 1, and so do we.
        regression = LogisticRegression(C=self.c, class_weight="balanced", max_iter=self.max_iter)
        regression.fit(scaler.transform(inputs), labels)
        self.mean_ = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale_ = np.asarray(scaler.scale_, dtype=np.float64)
        self.coef_ = np.asarray(regression.coef_[0], dtype=np.float64)
        self.intercept_ = float(regression.intercept_[0])
        self.classes_ = np.array([0, 1])
        return self

    @property
    def n_features_in_(self) -> int:
        return len(self.coef_)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    # -- plain numbers, in and out -----------------------------------------------------------

    @classmethod
    def from_numbers(
        cls,
        mean: Sequence[float],
        scale: Sequence[float],
        coef: Sequence[float],
        intercept: float,
    ) -> VerdictRanker:
        """A fitted ranker from its stored numbers; RankerError when they make none."""
        problem = numbers_problem(mean, scale, coef, intercept)
        if problem:
            raise RankerError(problem)
        ranker = cls()
        ranker.mean_ = np.array(mean, dtype=np.float64)
        ranker.scale_ = np.array(scale, dtype=np.float64)
        ranker.coef_ = np.array(coef, dtype=np.float64)
        ranker.intercept_ = float(intercept)
        ranker.classes_ = np.array([0, 1])
        for array in (ranker.mean_, ranker.scale_, ranker.coef_):
            array.flags.writeable = False
        return ranker

    def numbers(self) -> dict[str, Any]:
        """What an artifact stores: plain lists of floats and one float."""
        check_is_fitted(self)
        return {
            "mean": [float(v) for v in self.mean_],
            "scale": [float(v) for v in self.scale_],
            "coef": [float(v) for v in self.coef_],
            "intercept": float(self.intercept_),
        }

    # -- scoring (numpy only) ----------------------------------------------------------------

    def decision_function(self, inputs: np.ndarray) -> np.ndarray:
        """The logit of each row, summed column after column: the same bits for a row
        whatever the batch (a matrix product or np.sum may sum in another order)."""
        check_is_fitted(self)
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != len(self.coef_):
            raise ValueError(f"inputs must have shape (n, {len(self.coef_)}), got {inputs.shape}")
        standardised = (inputs - self.mean_) / self.scale_
        logit = np.full(len(inputs), self.intercept_)
        for column, weight in enumerate(self.coef_):
            logit = logit + standardised[:, column] * weight
        return logit

    def probability(self, inputs: np.ndarray) -> np.ndarray:
        """P(confirmed) of each row, in [0, 1]."""
        logit = np.clip(self.decision_function(inputs), -_MAX_LOGIT, _MAX_LOGIT)
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-logit))
        return probability

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        p = self.probability(inputs)
        return np.column_stack([1.0 - p, p])

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return (self.probability(inputs) >= 0.5).astype(np.int64)

    def shift(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probability, score shift) per row: the shift is RANKER_WEIGHT * (2p - 1)."""
        probability = self.probability(inputs)
        shift: np.ndarray = RANKER_WEIGHT * (2.0 * probability - 1.0)
        return probability, shift


def numbers_problem(
    mean: Sequence[float], scale: Sequence[float], coef: Sequence[float], intercept: float
) -> str | None:
    """What is wrong with a ranker's stored numbers, or None."""
    if not (len(mean) == len(scale) == len(coef)) or not coef:
        return f"ranker lengths differ or are 0: {len(mean)}, {len(scale)}, {len(coef)}"
    values = [*mean, *scale, *coef, intercept]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        return "ranker numbers must be finite"
    if not all(s > 0 for s in scale):
        return "ranker scales must be > 0"
    return None
