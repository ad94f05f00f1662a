"""Publishing a model: one too large for the models topic is refused before Kafka."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import streams.model_topic
from models.feature_names import FEATURE_NAMES
from models.forest import FundraisingForest, ModelArtifactError
from streams.model_topic import publish_model
from streams.settings import Settings


def test_a_model_too_large_for_the_topic_is_refused_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    features = rng.random((300, len(FEATURE_NAMES))) * 50
    accounts = [f"A{i % 30}" for i in range(300)]
    model = FundraisingForest(n_estimators=10).fit(
        features, groups=["corporate|retail"] * 300, accounts=accounts
    )
    assert model.own_limits_  # 30 businesses, each paid by up to 50 people
    model.save(tmp_path / "m")
    size = len(model.to_bytes())
    monkeypatch.setattr(streams.model_topic, "MODEL_MESSAGE_MAX_BYTES", size - 1)
    # No broker anywhere: the refusal comes before any client is made.
    settings = Settings(bootstrap_servers="127.0.0.1:9")
    with pytest.raises(ModelArtifactError, match=f"{size:,} bytes, more than the models topic"):
        publish_model(settings, tmp_path / "m", None)
