"""The model a worker or a backtest scores with: a forest plus what lead building needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.feature_names import FEATURE_NAMES
from models.forest import ForestModel
from models.leads import ModelView
from models.structure import adjust


def model_input(features: np.ndarray) -> np.ndarray:
    """What the forest sees: log1p of each feature (all are >= 0), so that the random splits
    of the isolation trees fall evenly over heavy-tailed counts and sums."""
    return np.log1p(features)


@dataclass(frozen=True)
class ActiveModel:
    forest: ForestModel
    view: ModelView

    @property
    def version(self) -> str:
        return self.view.version

    @classmethod
    def from_forest(cls, forest: ForestModel) -> ActiveModel:
        """Wrap a loaded forest; refuses one trained on other features (ModelArtifactError)."""
        forest.check_features(list(FEATURE_NAMES))
        meta = forest.metadata
        return cls(
            forest,
            ModelView(
                version=meta.version,
                threshold=meta.threshold,
                score_quantiles=meta.score_quantiles,
                feature_quantiles=meta.feature_quantiles,
            ),
        )

    def score(self, features: np.ndarray) -> np.ndarray:
        """Lead scores of a batch of feature rows: the forest's anomaly score (higher is more
        anomalous), raised for a scheme's structure and lowered without it (models.structure)."""
        return adjust(self.forest.anomaly_scores(model_input(features)), features)
