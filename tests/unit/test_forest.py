"""The model: an estimator in scikit-learn's manner whose scores equal scikit-learn's on log1p
of the features, a calibrated threshold, a safe artifact."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError

from models.feature_names import FEATURE_NAMES
from models.forest import MODEL_JSON_FIELDS, FundraisingForest, ModelArtifactError
from models.scoring import IsolationTrees

PERIOD = {"start": "2026-10-01T00:00:00+00:00", "end": "2026-11-01T00:00:00+00:00"}
EXACT = {"rtol": 0, "atol": 1e-9}


def names(n_features: int) -> list[str]:
    return [f"feature_{i}" for i in range(n_features)]


def train(
    features: np.ndarray, version: str | None = None, **settings: Any
) -> tuple[FundraisingForest, IsolationForest]:
    """The model fitted on ``features``, and scikit-learn's forest fitted as it says it fits:
    on log1p of them, with its settings."""
    settings = {"n_estimators": 20, "max_samples": 64, **settings}
    model = FundraisingForest(feature_names=names(features.shape[1]), **settings)
    model.fit(features, training_period=PERIOD, record_count=12_345, version=version)
    twin = IsolationForest(
        n_estimators=model.n_estimators,
        max_samples=min(model.max_samples, len(features)),
        contamination="auto",
        random_state=model.random_state,
    ).fit(np.log1p(features))
    return model, twin


def heavy_tailed(rng: np.random.Generator, n_rows: int, n_features: int) -> np.ndarray:
    """Like counts and sums: many ties at 0, a long tail."""
    counts = rng.poisson(rng.uniform(0.2, 5.0, n_features), size=(n_rows, n_features))
    amounts = rng.lognormal(3.0, 2.0, size=(n_rows, n_features)) * (counts > 0)
    return np.where(rng.random(n_features) < 0.5, counts, amounts).astype(np.float64)


def positive(rng: np.random.Generator, n_rows: int, n_features: int) -> np.ndarray:
    return rng.exponential(3.0, size=(n_rows, n_features))


def at_split_thresholds(trees: IsolationTrees, base: np.ndarray) -> np.ndarray:
    """Rows of ``base`` with one column set exactly to a split threshold (and to its float32
    neighbours): the values where a float64 comparison would go the other way."""
    split = trees.arrays["feature"] >= 0
    features, thresholds = trees.arrays["feature"][split], trees.arrays["threshold"][split]
    rows = []
    for nudge in (None, -np.inf, np.inf):
        probe = base[np.arange(len(thresholds)) % len(base)].copy()
        values = thresholds
        if nudge is not None:
            as_float32 = thresholds.astype(np.float32)
            values = np.nextafter(as_float32, np.float32(nudge)).astype(np.float64)
        probe[np.arange(len(thresholds)), features] = values
        rows.append(probe)
    return np.vstack(rows)


def sklearn_anomaly_scores(estimator: IsolationForest, model_input: np.ndarray) -> np.ndarray:
    return -estimator.score_samples(model_input)


def described(model: FundraisingForest) -> dict[str, Any]:
    """What model.json holds of a model, as the estimator holds it."""
    return {key: getattr(model, attribute) for key, (attribute, _) in MODEL_JSON_FIELDS.items()}


# --- equality with scikit-learn ---------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "n_rows", "n_features", "n_estimators", "max_samples"),
    [
        (0, 500, 1, 1, 64),
        (1, 500, 3, 100, 256),  # max_samples < n_rows
        (2, 200, 7, 100, 256),  # max_samples > n_rows: clipped to n_rows
        (3, 2000, 40, 100, 256),
        (4, 300, 5, 1, 1000),
        (5, 1000, 12, 30, 2),
    ],
)
def test_scores_equal_sklearn(
    seed: int, n_rows: int, n_features: int, n_estimators: int, max_samples: int
) -> None:
    rng = np.random.default_rng(seed)
    training = heavy_tailed(rng, n_rows, n_features)
    model, estimator = train(
        training, n_estimators=n_estimators, max_samples=max_samples, random_state=seed
    )
    assert model.trees_.n_trees == len(estimator.estimators_) == n_estimators
    queries = np.vstack(
        [
            training,
            heavy_tailed(rng, 300, n_features),
            rng.exponential(1e9, size=(100, n_features)),  # far outside the training range
            np.expm1(at_split_thresholds(model.trees_, np.log1p(training))),  # near the splits
        ]
    )
    ours = model.anomaly_score(queries)
    assert ours.dtype == np.float64 and ours.shape == (len(queries),)
    assert np.allclose(ours, sklearn_anomaly_scores(estimator, np.log1p(queries)), **EXACT)


def test_threshold_values_follow_sklearn_float32_rounding() -> None:
    """Values at and next to the split thresholds: only a float32 cast puts them on the same
    side as scikit-learn. Guard that such values really are in the test."""
    rng = np.random.default_rng(11)
    model, estimator = train(positive(rng, 1000, 4))
    trees = model.trees_
    probes = at_split_thresholds(trees, np.log1p(positive(rng, 50, 4)))  # model input
    split = trees.arrays["feature"] >= 0
    thresholds = trees.arrays["threshold"][split]
    rounded_across = thresholds.astype(np.float32).astype(np.float64) > thresholds
    assert rounded_across.any()  # else this test could not catch a float64 comparison
    assert np.allclose(
        trees.anomaly_scores(probes), sklearn_anomaly_scores(estimator, probes), **EXACT
    )


def test_values_equal_to_a_threshold_go_left_as_in_sklearn() -> None:
    """Fitted thresholds are almost never float32 numbers, so x == threshold cannot happen
    after the cast; round them to float32 in the fitted trees to make equality happen."""
    rng = np.random.default_rng(12)
    estimator = IsolationForest(n_estimators=20, max_samples=64, random_state=2)
    estimator.fit(rng.normal(size=(500, 3)))
    for tree in estimator.estimators_:
        state = tree.tree_.__getstate__()
        nodes = state["nodes"].copy()
        nodes["threshold"] = nodes["threshold"].astype(np.float32).astype(np.float64)
        tree.tree_.__setstate__({**state, "nodes": nodes})
    trees = IsolationTrees.from_sklearn(estimator)
    probes = at_split_thresholds(trees, rng.normal(size=(50, 3)))
    assert np.allclose(
        trees.anomaly_scores(probes), sklearn_anomaly_scores(estimator, probes), **EXACT
    )


@pytest.mark.parametrize("max_features", [0.5, 3])
def test_subsampled_columns_are_mapped_to_the_input_columns(max_features: float) -> None:
    rng = np.random.default_rng(5)
    training = heavy_tailed(rng, 800, 6)
    estimator = IsolationForest(
        n_estimators=25, max_samples=128, max_features=max_features, random_state=3
    ).fit(training)
    trees = IsolationTrees.from_sklearn(estimator)
    queries = np.vstack([training, at_split_thresholds(trees, training)])
    assert np.allclose(
        trees.anomaly_scores(queries), sklearn_anomaly_scores(estimator, queries), **EXACT
    )


def test_a_single_training_row_scores_like_sklearn() -> None:
    model, estimator = train(np.array([[1.0, 2.0]]))
    queries = np.array([[1.0, 2.0], [5.0, 0.0]])
    assert np.allclose(
        model.anomaly_score(queries), sklearn_anomaly_scores(estimator, np.log1p(queries))
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(2, 300),
    n_features=st.integers(1, 6),
    n_estimators=st.integers(1, 8),
    max_samples=st.integers(2, 400),
    distinct_values=st.integers(1, 12),
)
def test_scores_equal_sklearn_on_tied_data(
    seed: int,
    n_rows: int,
    n_features: int,
    n_estimators: int,
    max_samples: int,
    distinct_values: int,
) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct values: many ties, and constant columns sklearn cannot split.
    training = rng.integers(0, distinct_values, size=(n_rows, n_features)) / 3.0
    model, estimator = train(
        training, n_estimators=n_estimators, max_samples=max_samples, random_state=1
    )
    queries = np.vstack([training, rng.integers(-1, distinct_values + 1, (50, n_features)) / 3.0])
    assert np.allclose(
        model.anomaly_score(queries),
        sklearn_anomaly_scores(estimator, np.log1p(queries)),
        **EXACT,
    )


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[np.nan, 1.0, 1.0]]),
        np.array([[np.inf, 1.0, 1.0]]),
        np.ones((2, 4)),
        np.ones(3),
        np.array([["a", "b", "c"]]),
        np.array([[-1.0, 1.0, 1.0]]),  # log1p of it is -inf
    ],
)
def test_bad_input_is_refused(bad: np.ndarray) -> None:
    model, _ = train(positive(np.random.default_rng(0), 100, 3))
    with pytest.raises(ValueError, match="features"):
        model.anomaly_score(bad)


def test_training_refuses_non_finite_rows_and_mismatched_names() -> None:
    training = positive(np.random.default_rng(0), 100, 3)
    training[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite values \(or values <= -1\) in 1 row"):
        train(training)
    with pytest.raises(ValueError, match="shape"):
        FundraisingForest(feature_names=["a", "b"]).fit(np.ones((10, 3)))
    with pytest.raises(ValueError, match="repeats"):
        FundraisingForest(feature_names=["a", "a"]).fit(np.ones((10, 2)))


# --- in scikit-learn's manner --------------------------------------------------------------


def test_settings_in_the_constructor_learned_values_in_fit() -> None:
    forest = FundraisingForest(n_estimators=10)
    assert forest.get_params() == {
        "n_estimators": 10,
        "max_samples": 256,
        "expected_alert_rate": 0.01,
        "random_state": 7,
        "feature_names": FEATURE_NAMES,
    }
    with pytest.raises(NotFittedError):
        forest.anomaly_score(np.zeros((1, len(FEATURE_NAMES))))
    training = positive(np.random.default_rng(3), 500, len(FEATURE_NAMES))
    assert forest.fit(training) is forest  # fit(X) alone: the provenance is optional
    assert forest.n_features_in_ == len(FEATURE_NAMES)
    assert forest.feature_names_in_ == list(FEATURE_NAMES)
    assert forest.record_count_ == forest.n_samples_fit_ == 500
    assert forest.training_period_ == {"start": "", "end": ""}
    refitted = clone(forest)  # the settings without what was learned, as sklearn clones
    assert refitted.get_params() == forest.get_params() and not hasattr(refitted, "trees_")


def test_score_samples_decision_function_and_predict_agree_with_the_threshold() -> None:
    rng = np.random.default_rng(6)
    model, estimator = train(heavy_tailed(rng, 3000, 4), n_estimators=30, max_samples=128)
    queries = np.vstack([heavy_tailed(rng, 2000, 4), rng.exponential(1e6, size=(50, 4))])
    anomaly = model.anomaly_score(queries)
    # scikit-learn's sign: the opposite of the paper's score, as IsolationForest.score_samples
    assert np.array_equal(model.score_samples(queries), -anomaly)
    assert np.allclose(
        model.score_samples(queries), estimator.score_samples(np.log1p(queries)), **EXACT
    )
    assert model.offset_ == -model.threshold_
    decision = model.decision_function(queries)
    assert np.array_equal(decision, model.score_samples(queries) - model.offset_)
    flagged = anomaly >= model.threshold_
    assert 0 < flagged.sum() < len(queries)
    assert np.array_equal(decision <= 0, flagged)
    assert np.array_equal(model.predict(queries), np.where(flagged, -1, 1))
    assert model.lead_view.threshold == model.threshold_
    assert model.lead_view.feature_quantiles == model.feature_quantiles_


# --- threshold and metadata --------------------------------------------------------------


@pytest.mark.parametrize("alert_rate", [0.005, 0.02])
def test_threshold_flags_the_expected_share_of_training_rows(alert_rate: float) -> None:
    rng = np.random.default_rng(2)
    training = positive(rng, 20_000, 5)
    model, estimator = train(
        training, n_estimators=50, max_samples=256, expected_alert_rate=alert_rate
    )
    scores = sklearn_anomaly_scores(estimator, np.log1p(training))
    assert model.threshold_ == pytest.approx(np.quantile(scores, 1 - alert_rate), abs=1e-9)
    flagged = int((model.predict(training) == -1).sum())
    expected = alert_rate * len(training)
    assert expected - 1 <= flagged <= expected * 1.1 + 1
    assert model.score_quantiles_["0.995"] == pytest.approx(np.quantile(scores, 0.995))


def test_metadata_describes_the_training() -> None:
    rng = np.random.default_rng(4)
    training = heavy_tailed(rng, 3000, 4)
    model, estimator = train(training, n_estimators=30, max_samples=128, random_state=9)

    assert model.feature_names_in_ == names(4)
    assert model.training_period_ == PERIOD
    assert model.record_count_ == 12_345
    assert model.n_samples_fit_ == 3000
    # The hash is of what the trees were fitted on: log1p of the features.
    digest = hashlib.sha256(np.ascontiguousarray(np.log1p(training), dtype=np.float64).tobytes())
    digest.update(json.dumps(names(4)).encode())
    assert model.data_hash_ == digest.hexdigest()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-" + model.data_hash_[:8], model.version_)
    assert datetime.fromisoformat(model.created_at_).utcoffset().total_seconds() == 0
    assert model.expected_alert_rate == 0.01
    assert list(model.score_quantiles_) == ["0.5", "0.9", "0.99", "0.995", "0.999"]
    assert list(model.score_quantiles_.values()) == sorted(model.score_quantiles_.values())
    assert list(model.feature_quantiles_) == names(4)
    # In natural units, for the reasons shown to analysts.
    assert model.feature_quantiles_["feature_2"]["0.9"] == pytest.approx(
        np.quantile(training[:, 2], 0.9)
    )
    assert set(model.library_versions_) == {"numpy", "scikit-learn", "python", "fundwatch"}
    assert model.library_versions_["fundwatch"] == "0.1.0"
    assert (model.n_estimators, model.max_samples, model.random_state) == (30, 128, 9)
    assert model.max_samples_ == estimator._max_samples == 128
    assert model.sklearn_offset_ == estimator.offset_
    assert model.max_depth_ == max(e.get_depth() for e in estimator.estimators_)


def test_version_given_by_the_caller_is_kept() -> None:
    model, _ = train(positive(np.random.default_rng(0), 50, 2), version="v42")
    assert model.version_ == "v42"


def test_check_features_refuses_other_features() -> None:
    model, _ = train(positive(np.random.default_rng(0), 50, 3))
    model.check_features(names(3))
    with pytest.raises(ModelArtifactError, match="another order"):
        model.check_features(list(reversed(names(3))))
    with pytest.raises(ModelArtifactError, match=r"missing \['feature_3'\]"):
        model.check_features(names(4))
    with pytest.raises(ModelArtifactError, match=r"unknown \['feature_2'\]"):
        model.check_features(names(2))


# --- the artifact ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> tuple[FundraisingForest, np.ndarray]:
    rng = np.random.default_rng(8)
    training = heavy_tailed(rng, 2000, 5)
    model, _ = train(training, n_estimators=40, max_samples=256)
    return model, np.vstack([training, heavy_tailed(rng, 500, 5)])


def test_save_and_load_give_identical_scores(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    model, queries = trained
    model.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["forest.npz", "model.json"]
    loaded = FundraisingForest.load(tmp_path / "model")
    assert described(loaded) == described(model)
    assert np.array_equal(loaded.anomaly_score(queries), model.anomaly_score(queries))


def test_bytes_round_trip_is_identical_and_reproducible(
    trained: tuple[FundraisingForest, np.ndarray],
) -> None:
    model, queries = trained
    blob = model.to_bytes()
    loaded = FundraisingForest.from_bytes(blob)
    assert described(loaded) == described(model)
    assert np.array_equal(loaded.anomaly_score(queries), model.anomaly_score(queries))
    assert loaded.to_bytes() == blob  # same model, same message on the topic


def test_artifact_holds_no_pickle(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    model, _ = trained
    model.save(tmp_path)
    with np.load(tmp_path / "forest.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert all(array.dtype.kind in "if" for array in arrays.values())
    json.loads((tmp_path / "model.json").read_text())
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        assert sorted(archive.namelist()) == ["forest.npz", "model.json"]
        np.load(io.BytesIO(archive.read("forest.npz")), allow_pickle=False)


class _Trap:
    """Unpickling this would set ``sprung``: proves nothing was unpickled."""

    sprung = False

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (_spring_trap, ())


def _spring_trap() -> None:
    _Trap.sprung = True


def test_an_object_array_is_refused_without_unpickling(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    model, _ = trained
    model.save(tmp_path)
    with np.load(tmp_path / "forest.npz", allow_pickle=False) as npz:
        arrays: dict[str, np.ndarray] = {name: npz[name] for name in npz.files}
    arrays["threshold"] = np.array([_Trap()] * len(arrays["threshold"]), dtype=object)
    np.savez(tmp_path / "forest.npz", **arrays)  # pickles the object array
    with pytest.raises(ModelArtifactError, match=r"forest\.npz: cannot read arrays"):
        FundraisingForest.load(tmp_path)
    assert not _Trap.sprung


def _artifact(
    model: FundraisingForest, directory: Path
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    model.save(directory)
    with np.load(directory / "forest.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name].copy() for name in npz.files}
    return json.loads((directory / "model.json").read_text()), arrays


def _write(directory: Path, document: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    (directory / "model.json").write_text(json.dumps(document))
    np.savez(directory / "forest.npz", **arrays)


def _internal(arrays: dict[str, np.ndarray]) -> int:
    return int(np.flatnonzero(arrays["children_left"] >= 0)[1])


# Each case corrupts (model.json document, arrays) in place; the message must say what.
CORRUPTIONS: dict[str, tuple[Callable[[dict[str, Any], dict[str, np.ndarray]], None], str]] = {
    "unknown format": (lambda d, a: d.update(artifact_format=2), "artifact_format 2"),
    "no format": (lambda d, a: d.pop("artifact_format"), "artifact_format None"),
    "missing field": (lambda d, a: d.pop("threshold"), r"missing \['threshold'\]"),
    "unknown field": (lambda d, a: d.update(colour="red"), r"unknown \['colour'\]"),
    "wrong type": (lambda d, a: d.update(n_estimators="40"), "'n_estimators'"),
    "names not a list": (lambda d, a: d.update(feature_names="f0,f1"), "'feature_names'"),
    "repeated names": (
        lambda d, a: d["feature_names"].__setitem__(1, d["feature_names"][0]),
        "feature_names repeats",
    ),
    "threshold > 1": (lambda d, a: d.update(threshold=1.5), "threshold 1.5"),
    "too few names": (
        lambda d, a: d["feature_names"].pop(),
        "is out of range for a split with 4 features",
    ),
    "trees miscounted": (lambda d, a: d.update(n_estimators=39), "arrays hold 40 trees"),
    "array missing": (lambda d, a: a.pop("feature"), r"missing: \['feature'\]"),
    "array extra": (lambda d, a: a.update(extra=np.zeros(3)), r"unexpected: \['extra'\]"),
    "wrong dtype": (
        lambda d, a: a.update(threshold=a["threshold"].astype(np.float32)),
        "'threshold' has dtype float32",
    ),
    "wrong shape": (
        lambda d, a: a.update(feature=a["feature"].reshape(1, -1)),
        "'feature' has shape",
    ),
    "wrong length": (
        lambda d, a: a.update(children_right=a["children_right"][:-1]),
        "'children_right' has",
    ),
    "child out of range": (
        lambda d, a: a["children_left"].__setitem__(0, 10**6),
        r"children_left\[0\] = 1000000 is out of range",
    ),
    "child before parent": (
        lambda d, a: a["children_right"].__setitem__(_internal(a), 0),
        "is out of range",
    ),
    "one child": (lambda d, a: a["children_right"].__setitem__(0, -1), "exactly one child"),
    "feature out of range": (
        lambda d, a: a["feature"].__setitem__(0, 5),
        r"feature\[0\] = 5 is out of range for a split with 5 features",
    ),
    "non-finite threshold": (
        lambda d, a: a["threshold"].__setitem__(0, np.inf),
        r"threshold\[0\] is not finite",
    ),
    "bad offsets": (
        lambda d, a: a["node_offsets"].__setitem__(-1, a["node_offsets"][-1] + 1),
        "node_offsets",
    ),
    "tampered threshold": (
        lambda d, a: a["threshold"].__setitem__(0, a["threshold"][0] + 1e-6),
        "do not match arrays_sha256",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_artifact_is_refused(
    case: str, trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    corrupt, message = CORRUPTIONS[case]
    document, arrays = _artifact(trained[0], tmp_path)
    corrupt(document, arrays)
    _write(tmp_path, document, arrays)
    with pytest.raises(ModelArtifactError, match=message):
        FundraisingForest.load(tmp_path)


def test_unchanged_rewrite_is_accepted(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    """The corruption cases fail because of their corruption, not because of _write."""
    document, arrays = _artifact(trained[0], tmp_path)
    _write(tmp_path, document, arrays)
    assert described(FundraisingForest.load(tmp_path)) == described(trained[0])


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("model.json", b"{not json", r"model\.json: not valid JSON"),
        ("model.json", b'{"threshold": NaN}', r"model\.json: not valid JSON"),
        ("model.json", b"[1, 2]", r"model\.json: expected a JSON object"),
        ("forest.npz", b"PK\x03\x04 truncated", r"forest\.npz: not an npz"),
        ("forest.npz", b"", r"forest\.npz: not an npz"),
    ],
)
def test_unreadable_files_are_refused(
    file: str,
    content: bytes,
    message: str,
    trained: tuple[FundraisingForest, np.ndarray],
    tmp_path: Path,
) -> None:
    trained[0].save(tmp_path)
    (tmp_path / file).write_bytes(content)
    with pytest.raises(ModelArtifactError, match=message):
        FundraisingForest.load(tmp_path)


@pytest.mark.parametrize("file", ["model.json", "forest.npz"])
def test_missing_file_is_refused(
    file: str, trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    trained[0].save(tmp_path)
    (tmp_path / file).unlink()
    with pytest.raises(ModelArtifactError, match=re.escape(str(tmp_path / file))):
        FundraisingForest.load(tmp_path)


def test_files_of_two_models_are_not_mixed(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    other, _ = train(positive(np.random.default_rng(99), 2000, 5), n_estimators=40, max_samples=256)
    trained[0].save(tmp_path / "a")
    other.save(tmp_path / "b")
    (tmp_path / "b" / "forest.npz").replace(tmp_path / "a" / "forest.npz")
    with pytest.raises(ModelArtifactError, match="do not match arrays_sha256"):
        FundraisingForest.load(tmp_path / "a")


def _repacked(blob: bytes, members: dict[str, bytes | None]) -> bytes:
    """The blob with some members replaced (bytes) or dropped (None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            replacement = members.get(name, source.read(name))
            if replacement is not None:
                target.writestr(name, replacement)
        for name, data in members.items():
            if name not in source.namelist() and data is not None:
                target.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"model.json": None}, r"holds \['forest.npz'\]"),
        ({"evil.pkl": b"\x80\x04."}, "holds"),
        ({"model.json": b"\xff\xfe"}, r"model blob/model\.json: not valid JSON"),
        ({"forest.npz": b"\x93NUMPY"}, r"model blob/forest\.npz: not an npz"),
    ],
)
def test_corrupted_blob_is_refused(
    members: dict[str, bytes | None], message: str, trained: tuple[FundraisingForest, np.ndarray]
) -> None:
    blob = _repacked(trained[0].to_bytes(), members)
    with pytest.raises(ModelArtifactError, match=message):
        FundraisingForest.from_bytes(blob)


@pytest.mark.parametrize("blob", [b"", b"not a zip", b"PK\x05\x06" + b"\0" * 18])
def test_garbage_blob_is_refused(blob: bytes) -> None:
    with pytest.raises(ModelArtifactError, match="model blob"):
        FundraisingForest.from_bytes(blob)


def test_saving_refuses_metadata_that_no_longer_fits(
    trained: tuple[FundraisingForest, np.ndarray], tmp_path: Path
) -> None:
    model = copy.copy(trained[0])
    model.feature_quantiles_ = {"other": {"0.5": 1.0}}
    with pytest.raises(ModelArtifactError, match="feature_quantiles"):
        model.save(tmp_path)
    assert not (tmp_path / "model.json").exists()


def test_max_samples_above_the_row_count_trains_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, _ = train(
            positive(np.random.default_rng(0), 100, 2), n_estimators=5, max_samples=256
        )
    assert model.max_samples_ == 100
