"""The detection model: one estimator in scikit-learn's manner, and its versioned artifact.

``FundraisingForest`` takes its settings in the constructor and learns the rest in ``fit``;
what it learned are attributes ending in ``_``, as scikit-learn's IsolationForest names
them: the compiled trees ``trees_``, ``threshold_``, ``feature_quantiles_``,
``score_quantiles_``, ``max_samples_`` (what the trees used), ``n_features_in_``,
``feature_names_in_``, and the provenance (``version_``, ``training_period_``...); and,
when ``fundwatch train`` had enough analysts' verdicts, the ``ranker_*_`` numbers of a
models.ranker.VerdictRanker (``set_ranker``; ``ranker`` gives it back, None without one).
The input transform is part of the model: the trees split ``log1p`` of each feature (all
are >= 0), so that their random splits fall evenly over heavy-tailed counts and sums; callers
pass the features in natural units, to ``fit`` and to every score.

Scores, for rows X of features (n, n_features):
  * ``anomaly_score(X)``: the paper's 2^(-E[h(x)]/c(n)) in (0, 1], higher is stranger; leads
    carry it and the threshold is on it. It is ``-IsolationForest.score_samples(log1p(X))``
    bit for bit (models.scoring walks all trees of a batch at once).
  * ``score_samples(X)``: scikit-learn's sign, ``-anomaly_score(X)``: lower is stranger.
  * ``decision_function(X)``: ``score_samples(X) - offset_``, with ``offset_ = -threshold_``:
    negative for an anomaly, and zero (a row exactly at the threshold) is one too.
  * ``predict(X)``: -1 for an anomaly (anomaly score >= ``threshold_``), 1 otherwise.
The threshold is calibrated in ``fit``: the anomaly score that ``expected_alert_rate`` of the
training rows reach (scikit-learn's ``contamination``, as a quantile of the training scores).

An artifact is ``model.json`` (the settings and fitted attributes but the trees, readable)
plus ``forest.npz`` (the flattened tree arrays of models.scoring). ``to_bytes`` packs both into
one zip for the models topic. Loading never executes code: JSON, and
``np.load(..., allow_pickle=False)`` of plain numeric arrays. Every check that fails raises
ModelArtifactError naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import tempfile
import typing
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted

from models.feature_names import FEATURE_NAMES
from models.leads import ModelView
from models.peers import fit_own_limits, fit_peer_limits
from models.ranker import (
    FOREST_SCORE_INPUT,
    VerdictRanker,
    numbers_problem,
    ranker_input_names,
)
from models.scoring import TREE_ARRAY_DTYPES, ForestStructureError, IsolationTrees
from schemas.errors import FundwatchError

ARTIFACT_FORMAT = 1  # bump on any change to the files' layout or meaning
METADATA_FILE = "model.json"
ARRAYS_FILE = "forest.npz"
SCORE_QUANTILES = ("0.5", "0.9", "0.99", "0.995", "0.999")
FEATURE_QUANTILES = ("0.5", "0.9", "0.99", "0.999")
# Far above a real artifact (~1 MB for 200 trees), far below what would hurt a worker:
# a blob from the topic is refused before it is inflated past this.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model always packs to the same bytes

# model.json: key -> (attribute, JSON type), in the file's order. The keys are the artifact
# format's; the attributes are the estimator's settings (no trailing _) and what fit learned.
MODEL_JSON_FIELDS: dict[str, tuple[str, Any]] = {
    "version": ("version_", str),
    "created_at": ("created_at_", str),  # ISO 8601 UTC
    "feature_names": ("feature_names_in_", list[str]),  # in column order
    "training_period": ("training_period_", dict[str, str]),  # {"start": iso, "end": iso}
    "record_count": ("record_count_", int),  # reports the training rows were computed from
    "sample_count": ("n_samples_fit_", int),  # training rows
    "data_hash": ("data_hash_", str),  # feature_matrix_hash of the model input (log1p)
    "threshold": ("threshold_", float),  # on the anomaly score
    "expected_alert_rate": ("expected_alert_rate", float),
    "score_quantiles": ("score_quantiles_", dict[str, float]),  # of the training scores
    # feature -> FEATURE_QUANTILES, in natural units (the reasons shown to analysts)
    "feature_quantiles": ("feature_quantiles_", dict[str, dict[str, float]]),
    "library_versions": ("library_versions_", dict[str, str]),  # numpy, scikit-learn, ...
    "n_estimators": ("n_estimators", int),
    "max_samples": ("max_samples", int),  # as set
    "effective_max_samples": ("max_samples_", int),  # min(max_samples, rows): what trees used
    "random_state": ("random_state", int),
    "max_depth": ("max_depth_", int),  # splits on the longest root-to-leaf path
    "sklearn_offset": ("sklearn_offset_", float),  # IsolationForest.offset_, for reference
    # peer group -> models.peers.PEER_FEATURES -> limit, natural units; and accounts per group
    "peer_limits": ("peer_limits_", dict[str, dict[str, float]]),
    "peer_accounts": ("peer_accounts_", dict[str, int]),
    # account -> its busiest value of each models.peers.PEER_FEATURES in the history, for the
    # accounts paid by many individuals (models.peers.fit_own_limits)
    "own_limits": ("own_limits_", dict[str, list[float]]),
    # The ranker learnt from analysts' verdicts (models.ranker), as plain numbers; empty lists
    # for the forest alone. Its inputs: log1p of each feature, then the forest's anomaly score.
    "ranker_inputs": ("ranker_inputs_", list[str]),
    "ranker_means": ("ranker_means_", list[float]),
    "ranker_scales": ("ranker_scales_", list[float]),
    "ranker_coefficients": ("ranker_coefficients_", list[float]),
    "ranker_intercept": ("ranker_intercept_", float),
    # accounts and rows of each verdict it was fitted on: confirmed_accounts, excluded_rows...
    "ranker_verdicts": ("ranker_verdicts_", dict[str, int]),
}
# Fields an artifact of an earlier release lacks, with the value that keeps its behaviour.
OPTIONAL_FIELDS: dict[str, Any] = {
    "peer_limits": {},
    "peer_accounts": {},
    "own_limits": {},
    "ranker_inputs": [],
    "ranker_means": [],
    "ranker_scales": [],
    "ranker_coefficients": [],
    "ranker_intercept": 0.0,
    "ranker_verdicts": {},
}
# What ranker_verdicts counts: the verdict accounts and their labelled training rows.
RANKER_VERDICT_KEYS = ("confirmed_accounts", "excluded_accounts", "confirmed_rows", "excluded_rows")
_SETTINGS = ("n_estimators", "max_samples", "expected_alert_rate", "random_state")
_UNKNOWN_PERIOD = {"start": "", "end": ""}


class ModelArtifactError(FundwatchError, ValueError, http_status=422):
    """A model artifact is missing, malformed, inconsistent, or for other features."""


class FundraisingForest(OutlierMixin, BaseEstimator):  # type: ignore[misc]
    """An isolation forest over log1p of the account features, with a calibrated threshold.

    Settings (scikit-learn's meaning): ``n_estimators``, ``max_samples`` (clipped to the row
    count, without sklearn's warning), ``expected_alert_rate`` (share of training rows at or
    above the threshold), ``random_state``, and ``feature_names``, the columns of X in order.
    """

    # What fit learns (and load reads back); see MODEL_JSON_FIELDS for the meaning of each.
    trees_: IsolationTrees
    threshold_: float
    score_quantiles_: dict[str, float]
    feature_quantiles_: dict[str, dict[str, float]]
    feature_names_in_: list[str]
    max_samples_: int
    max_depth_: int
    n_samples_fit_: int
    version_: str
    created_at_: str
    training_period_: dict[str, str]
    record_count_: int
    data_hash_: str
    library_versions_: dict[str, str]
    sklearn_offset_: float
    peer_limits_: dict[str, dict[str, float]]
    peer_accounts_: dict[str, int]
    own_limits_: dict[str, list[float]]
    ranker_inputs_: list[str]
    ranker_means_: list[float]
    ranker_scales_: list[float]
    ranker_coefficients_: list[float]
    ranker_intercept_: float
    ranker_verdicts_: dict[str, int]
    _ranker: VerdictRanker | None = None  # built from the ranker_ numbers on first use

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: int = 256,
        # 1 % found every simulated scheme account but one within days; 0.5 % missed the
        # controllers and took 10-18 days (README, Detection quality).
        expected_alert_rate: float = 0.01,
        random_state: int = 7,
        feature_names: Sequence[str] = FEATURE_NAMES,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.expected_alert_rate = expected_alert_rate
        self.random_state = random_state
        self.feature_names = feature_names

    # -- fitting ---------------------------------------------------------------------------

    def fit(
        self,
        features: np.ndarray,
        y: None = None,
        *,
        training_period: Mapping[str, str] | None = None,
        record_count: int | None = None,
        version: str | None = None,
        groups: Sequence[str] | None = None,
        accounts: Sequence[str] | None = None,
    ) -> FundraisingForest:
        """Fit the trees on log1p(features) (rows (n, n_features), natural units); calibrate
        the threshold on the training rows' scores.

        ``training_period`` ({"start": iso, "end": iso}) and ``record_count`` (the reports
        the rows came from) describe the data in the artifact; ``version`` names the model
        (default: creation time and data hash). ``y`` is ignored, as in scikit-learn.
        ``groups`` and ``accounts``: each row's peer group (models.peers.peer_group) and
        account id, from which the peer limits are learnt (none without them).
        """
        names = list(self.feature_names)
        problem = _feature_names_problem(names)
        if problem:
            raise ValueError(f"feature_names: {problem}")
        matrix, model_input = _checked_input(features, len(names))
        if matrix.shape[0] < 1:
            raise ValueError("features has no rows")
        self._check_settings()
        period = dict(training_period) if training_period is not None else dict(_UNKNOWN_PERIOD)
        if set(period) != {"start", "end"} or not all(isinstance(v, str) for v in period.values()):
            raise ValueError(f"training_period must be {{'start': iso, 'end': iso}}: {period}")

        n_samples = matrix.shape[0]
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            # sklearn would clip a larger max_samples to n_samples too, but with a warning
            max_samples=min(self.max_samples, n_samples),
            contamination="auto",
            random_state=self.random_state,
        )
        forest.fit(model_input)
        trees = IsolationTrees.from_sklearn(forest)
        scores = trees.anomaly_scores(model_input)
        data_hash = feature_matrix_hash(model_input, names)
        created = datetime.now(UTC).replace(microsecond=0)

        self.trees_ = trees
        self.version_ = version or f"{created:%Y-%m-%dT%H-%M-%SZ}-{data_hash[:8]}"
        self.created_at_ = created.isoformat().replace("+00:00", "Z")
        self.feature_names_in_ = names
        self.training_period_ = period
        self.record_count_ = int(record_count) if record_count is not None else n_samples
        self.n_samples_fit_ = n_samples
        self.data_hash_ = data_hash
        self.threshold_ = float(np.quantile(scores, 1.0 - self.expected_alert_rate))
        self.score_quantiles_ = {q: float(np.quantile(scores, float(q))) for q in SCORE_QUANTILES}
        self.feature_quantiles_ = {
            name: {q: float(np.quantile(matrix[:, i], float(q))) for q in FEATURE_QUANTILES}
            for i, name in enumerate(names)
        }
        self.library_versions_ = library_versions()
        self.max_samples_ = trees.effective_max_samples
        self.max_depth_ = trees.max_depth
        self.sklearn_offset_ = float(forest.offset_)
        if groups is not None and accounts is not None:
            if names != list(FEATURE_NAMES):
                raise ValueError("peer limits are learnt on the FEATURE_NAMES columns only")
            self.peer_limits_, self.peer_accounts_ = fit_peer_limits(matrix, groups, accounts)
            self.own_limits_ = fit_own_limits(matrix, accounts)
        else:
            self.peer_limits_, self.peer_accounts_, self.own_limits_ = {}, {}, {}
        self._clear_ranker()
        self._check_fitted("model")
        return self

    def set_ranker(
        self, ranker: VerdictRanker | None, verdicts: Mapping[str, int] | None = None
    ) -> None:
        """Keep ``ranker`` (fitted on this forest's anomaly scores) in the model, or none;
        ``verdicts``: accounts and rows of each verdict it learnt from."""
        check_is_fitted(self)
        if ranker is None:
            self._clear_ranker()
        else:
            numbers = ranker.numbers()
            self.ranker_inputs_ = ranker_input_names(self.feature_names_in_)
            self.ranker_means_ = numbers["mean"]
            self.ranker_scales_ = numbers["scale"]
            self.ranker_coefficients_ = numbers["coef"]
            self.ranker_intercept_ = numbers["intercept"]
            self.ranker_verdicts_ = {k: int(v) for k, v in (verdicts or {}).items()}
        self._ranker = None
        self._check_fitted("model")

    @property
    def ranker(self) -> VerdictRanker | None:
        """The verdicts' ranker, built from the stored numbers once (None: forest alone)."""
        check_is_fitted(self)
        if not self.ranker_coefficients_:
            return None
        cached = self._ranker
        if cached is None:
            cached = self._ranker = VerdictRanker.from_numbers(
                self.ranker_means_,
                self.ranker_scales_,
                self.ranker_coefficients_,
                self.ranker_intercept_,
            )
        return cached

    def _clear_ranker(self) -> None:
        self.ranker_inputs_, self.ranker_means_, self.ranker_scales_ = [], [], []
        self.ranker_coefficients_, self.ranker_intercept_, self.ranker_verdicts_ = [], 0.0, {}
        self._ranker = None

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "trees_")

    # -- scoring ---------------------------------------------------------------------------

    @property
    def n_features_in_(self) -> int:
        return len(self.feature_names_in_)

    @property
    def offset_(self) -> float:
        """As in scikit-learn: ``decision_function = score_samples - offset_``."""
        return -self.threshold_

    def anomaly_score(self, features: np.ndarray) -> np.ndarray:
        """Anomaly score of each row of features (n, n_features), natural units: float64
        (n,), higher is stranger. Raises ValueError on a wrong shape or non-finite values."""
        check_is_fitted(self)
        _, model_input = _checked_input(features, self.trees_.n_features)
        return self.trees_.anomaly_scores(model_input)

    def score_samples(self, features: np.ndarray) -> np.ndarray:
        """scikit-learn's sign: the opposite of the anomaly score (lower is stranger)."""
        return -self.anomaly_score(features)

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Negative (or zero, at the threshold) for anomalies, positive for the others."""
        return self.score_samples(features) - self.offset_

    def predict(self, features: np.ndarray) -> np.ndarray:
        """-1 for an anomaly (anomaly score >= threshold_), 1 for the others."""
        return np.where(self.anomaly_score(features) >= self.threshold_, -1, 1)

    @property
    def lead_view(self) -> ModelView:
        """What lead building reads of the model (models.leads)."""
        check_is_fitted(self)
        return ModelView(
            self.version_,
            self.threshold_,
            self.score_quantiles_,
            self.feature_quantiles_,
            self.peer_limits_,
            self.peer_accounts_,
            self.own_limits_,
        )

    def check_features(self, expected_names: Sequence[str] = FEATURE_NAMES) -> None:
        """Refuse a model trained on other features than the running code computes."""
        check_is_fitted(self)
        model_names = list(self.feature_names_in_)
        expected = list(expected_names)
        if model_names == expected:
            return
        missing = [name for name in expected if name not in model_names]
        unknown = [name for name in model_names if name not in expected]
        detail = (
            f"missing {missing}, unknown {unknown}"
            if missing or unknown
            else "same names in another order"
        )
        raise ModelArtifactError(
            f"model {self.version_} was trained on other features than this code "
            f"computes ({len(model_names)} vs {len(expected)}): {detail}"
        )

    # -- the artifact ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write directory/model.json and directory/forest.npz (each replaced atomically)."""
        json_bytes, npz_bytes = self._artifact_files()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # The arrays first: a reader that sees the new model.json also sees its arrays,
        # and a mismatched pair is refused by the arrays hash anyway.
        _write_atomically(directory / ARRAYS_FILE, npz_bytes)
        _write_atomically(directory / METADATA_FILE, json_bytes)

    @classmethod
    def load(cls, directory: Path) -> FundraisingForest:
        directory = Path(directory)
        contents = {}
        for name in (METADATA_FILE, ARRAYS_FILE):
            path = directory / name
            try:
                contents[name] = path.read_bytes()
            except OSError as exc:
                raise ModelArtifactError(f"{path}: cannot read ({exc.strerror})") from exc
        return cls._from_files(contents[METADATA_FILE], contents[ARRAYS_FILE], str(directory))

    def to_bytes(self) -> bytes:
        """One zip holding model.json and forest.npz; the same model gives the same bytes."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in zip(
                (METADATA_FILE, ARRAYS_FILE), self._artifact_files(), strict=True
            ):
                archive.writestr(_zip_entry(name), data)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> FundraisingForest:
        source = "model blob"
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
        except (zipfile.BadZipFile, ValueError) as exc:
            raise ModelArtifactError(f"{source}: not a zip archive ({exc})") from exc
        with archive:
            names = sorted(archive.namelist())
            if names != sorted((METADATA_FILE, ARRAYS_FILE)):
                raise ModelArtifactError(
                    f"{source}: holds {names}, expected {METADATA_FILE} and {ARRAYS_FILE}"
                )
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise ModelArtifactError(f"{source}: unpacks to {unpacked:,} bytes, too large")
            try:
                json_bytes = archive.read(METADATA_FILE)
                npz_bytes = archive.read(ARRAYS_FILE)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise ModelArtifactError(f"{source}: corrupt zip member ({exc})") from exc
        return cls._from_files(json_bytes, npz_bytes, source)

    def _document(self) -> dict[str, Any]:
        """The model.json fields as this estimator holds them."""
        return {key: getattr(self, attribute) for key, (attribute, _) in MODEL_JSON_FIELDS.items()}

    def _artifact_files(self) -> tuple[bytes, bytes]:
        check_is_fitted(self)
        self._check_fitted("model")
        npz_bytes = _npz_bytes(self.trees_.arrays)
        document = {
            "artifact_format": ARTIFACT_FORMAT,
            "arrays_sha256": _arrays_sha256(self.trees_.arrays),
            # Without a ranker, or own limits, their fields are left out: a model without
            # them is then the previous release's artifact, which a worker not yet upgraded
            # still loads.
            **{
                key: value
                for key, value in self._document().items()
                if (self.ranker_coefficients_ or not key.startswith("ranker_"))
                and (self.own_limits_ or key != "own_limits")
            },
        }
        json_bytes = json.dumps(document, indent=2, allow_nan=False).encode() + b"\n"
        return json_bytes, npz_bytes

    @classmethod
    def _from_files(cls, json_bytes: bytes, npz_bytes: bytes, source: str) -> FundraisingForest:
        json_source, npz_source = f"{source}/{METADATA_FILE}", f"{source}/{ARRAYS_FILE}"
        document = _parse_json(json_bytes, json_source)
        fmt = document.pop("artifact_format", None)
        if fmt != ARTIFACT_FORMAT:
            raise ModelArtifactError(
                f"{json_source}: artifact_format {fmt!r} is not supported "
                f"(this code reads format {ARTIFACT_FORMAT})"
            )
        expected_hash = document.pop("arrays_sha256", None)
        values = _fields_from_document(document, json_source)
        arrays = _read_npz(npz_bytes, npz_source)
        try:
            trees = IsolationTrees(
                arrays, len(values["feature_names"]), values["effective_max_samples"]
            )
        except ForestStructureError as exc:
            raise ModelArtifactError(f"{npz_source}: {exc}") from exc
        if _arrays_sha256(trees.arrays) != expected_hash:
            raise ModelArtifactError(
                f"{npz_source}: arrays do not match arrays_sha256 in {METADATA_FILE} "
                "(corrupted, or the two files come from different models)"
            )
        model = cls(
            **{name: values[name] for name in _SETTINGS},
            feature_names=tuple(values["feature_names"]),
        )
        for key, (attribute, _) in MODEL_JSON_FIELDS.items():
            if attribute.endswith("_"):
                setattr(model, attribute, values[key])
        model.trees_ = trees
        model._check_fitted(json_source)
        return model

    # -- checks ----------------------------------------------------------------------------

    def _check_settings(self) -> None:
        if self.n_estimators < 1 or self.max_samples < 1:
            raise ValueError(
                f"n_estimators and max_samples must be >= 1: {self.n_estimators}, "
                f"{self.max_samples}"
            )
        if not 0.0 < self.expected_alert_rate < 1.0:
            raise ValueError(f"expected_alert_rate must be in (0, 1): {self.expected_alert_rate}")

    def _check_fitted(self, source: str) -> None:
        """The fitted attributes consistent in themselves and with the trees."""
        _check_field_types(self._document(), source)
        names, trees = self.feature_names_in_, self.trees_
        _check_feature_names(names, source)
        if len(names) != trees.n_features:
            raise ModelArtifactError(
                f"{source}: {len(names)} feature_names, trees use {trees.n_features}"
            )
        if self.n_estimators != trees.n_trees:
            raise ModelArtifactError(
                f"{source}: n_estimators is {self.n_estimators}, arrays hold {trees.n_trees} trees"
            )
        if self.max_samples_ != trees.effective_max_samples:
            raise ModelArtifactError(f"{source}: effective_max_samples disagrees with the trees")
        if not (math.isfinite(self.threshold_) and 0.0 < self.threshold_ <= 1.0):
            raise ModelArtifactError(f"{source}: threshold {self.threshold_!r} not in (0, 1]")
        if set(self.score_quantiles_) != set(SCORE_QUANTILES):
            raise ModelArtifactError(f"{source}: score_quantiles keys must be {SCORE_QUANTILES}")
        if set(self.feature_quantiles_) != set(names):
            raise ModelArtifactError(f"{source}: feature_quantiles keys differ from feature_names")
        if set(self.training_period_) != {"start", "end"}:
            raise ModelArtifactError(f"{source}: training_period must have start and end")
        self._check_ranker(source)

    def _check_ranker(self, source: str) -> None:
        """No ranker (every ranker field empty), or a whole one over this model's inputs."""
        stored = (
            self.ranker_inputs_,
            self.ranker_means_,
            self.ranker_scales_,
            self.ranker_coefficients_,
            self.ranker_verdicts_,
        )
        if not any(stored) and self.ranker_intercept_ == 0.0:
            return
        expected = ranker_input_names(self.feature_names_in_)
        if self.ranker_inputs_ != expected:
            raise ModelArtifactError(
                f"{source}: ranker_inputs must be the feature_names then {FOREST_SCORE_INPUT}"
            )
        problem = numbers_problem(
            self.ranker_means_,
            self.ranker_scales_,
            self.ranker_coefficients_,
            self.ranker_intercept_,
        )
        if problem or len(self.ranker_coefficients_) != len(expected):
            raise ModelArtifactError(
                f"{source}: {problem or 'ranker numbers are not one per ranker input'}"
            )
        if (
            set(self.ranker_verdicts_) != set(RANKER_VERDICT_KEYS)
            or min(self.ranker_verdicts_.values()) < 1
        ):
            raise ModelArtifactError(
                f"{source}: ranker_verdicts must count {RANKER_VERDICT_KEYS}, each >= 1"
            )


def feature_matrix_hash(features: np.ndarray, feature_names: Sequence[str]) -> str:
    """sha256 of the matrix as float64 C-order bytes, then the names as a UTF-8 JSON list."""
    digest = hashlib.sha256(np.ascontiguousarray(features, dtype=np.float64).tobytes())
    digest.update(json.dumps(list(feature_names), ensure_ascii=False).encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    try:
        fundwatch = package_metadata.version("fundwatch")
    except package_metadata.PackageNotFoundError:  # running from a checkout
        fundwatch = "0.1.0"
    return {
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "fundwatch": fundwatch,
    }


def _checked_input(features: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(the features as float64, the model input log1p of them), both C-contiguous."""
    matrix = np.asarray(features)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(f"features must have shape (n, {n_features}), got {matrix.shape}")
    if not (np.issubdtype(matrix.dtype, np.number) and not np.iscomplexobj(matrix)):
        raise ValueError(f"features must be real numbers, got dtype {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # below -1: refused just below
        model_input = np.log1p(matrix)
    if not np.all(np.isfinite(model_input)):
        rows = np.flatnonzero(~np.all(np.isfinite(model_input), axis=1))
        raise ValueError(
            f"features have non-finite values (or values <= -1) in {len(rows)} row(s), "
            f"first row {rows[0]}"
        )
    return matrix, model_input


def _feature_names_problem(names: Any) -> str | None:
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        return "must be a list of non-empty strings"
    if not names:
        return "is empty"
    duplicates = sorted({n for n in names if names.count(n) > 1})
    return f"repeats {duplicates}" if duplicates else None


def _check_feature_names(names: Any, source: str) -> None:
    problem = _feature_names_problem(names)
    if problem:
        raise ModelArtifactError(f"{source}: feature_names {problem}")


def _check_field_types(document: Mapping[str, Any], source: str) -> None:
    for key, (_, hint) in MODEL_JSON_FIELDS.items():
        value = document[key]
        if not _conforms(value, hint):
            raise ModelArtifactError(
                f"{source}: field {key!r} = {_short(value)} is not of type {_type_name(hint)}"
            )


def _fields_from_document(document: dict[str, Any], source: str) -> dict[str, Any]:
    document = {**OPTIONAL_FIELDS, **document}
    missing = sorted(set(MODEL_JSON_FIELDS) - set(document))
    unknown = sorted(set(document) - set(MODEL_JSON_FIELDS))
    if missing or unknown:
        raise ModelArtifactError(f"{source}: fields missing {missing}, unknown {unknown}")
    _check_field_types(document, source)
    _check_feature_names(document["feature_names"], source)
    # JSON writes 1.0 as 1.0, but a hand-edited file may hold 1: store floats as floats.
    return {key: _as_declared(document[key], hint) for key, (_, hint) in MODEL_JSON_FIELDS.items()}


def _conforms(value: Any, hint: Any) -> bool:
    """isinstance for the JSON-shaped types of MODEL_JSON_FIELDS; floats must be finite."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    raise TypeError(f"unsupported metadata type {hint!r}")


def _as_declared(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is float:
        return float(value)
    if origin is list:
        return [_as_declared(v, args[0]) for v in value]
    if origin is dict:
        return {k: _as_declared(v, args[1]) for k, v in value.items()}
    return value


def _type_name(hint: Any) -> str:
    return hint.__name__ if typing.get_origin(hint) is None else str(hint)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_json(data: bytes, source: str) -> dict[str, Any]:
    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not allowed")

    try:
        document = json.loads(data.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelArtifactError(f"{source}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ModelArtifactError(f"{source}: expected a JSON object, got {type(document).__name__}")
    return document


def _read_npz(data: bytes, source: str) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ModelArtifactError(f"{source}: not an npz (zip) archive ({exc})") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelArtifactError(f"{source}: unpacks to {unpacked:,} bytes, too large")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    # np.load of untrusted bytes fails in many ways (a pickled object array is a ValueError):
    # any of them means the file is not a valid artifact.
    except Exception as exc:
        raise ModelArtifactError(f"{source}: cannot read arrays ({exc})") from exc


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An npz np.load reads, written with fixed timestamps so that it is reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in TREE_ARRAY_DTYPES:
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(arrays[name]), allow_pickle=False
            )
            archive.writestr(_zip_entry(f"{name}.npy"), member.getvalue())
    return buffer.getvalue()


def _arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in TREE_ARRAY_DTYPES:
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _zip_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a partly written one."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
