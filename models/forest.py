"""Training the isolation forest, and the versioned model artifact.

An artifact is ``model.json`` (metadata, human-readable) plus ``forest.npz`` (the flattened
tree arrays of models.scoring). ``to_bytes`` packs both into one zip for the models topic.
Loading never executes code: JSON, and ``np.load(..., allow_pickle=False)`` of plain numeric
arrays. Every check that fails raises ModelArtifactError naming the file and the problem.

Anomaly score: ``-IsolationForest.score_samples(X)``, the paper's 2^(-E[h(x)]/c(n)) in
(0, 1]; higher is more anomalous. An account is flagged when its score >= the threshold.
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
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest

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


class ModelArtifactError(FundwatchError, ValueError, http_status=422):
    """A model artifact is missing, malformed, inconsistent, or for other features."""


@dataclass(frozen=True)
class TrainingConfig:
    n_estimators: int = 100
    max_samples: int = 256
    # Share of training rows (account-days) at or above the threshold. 1 % found every
    # simulated scheme account but one within days; 0.5 % missed the controllers and took
    # 10-18 days (README, Detection quality).
    expected_alert_rate: float = 0.01
    random_state: int = 7


@dataclass(frozen=True)
class ModelMetadata:
    """Everything about a model except its trees; serialised as model.json."""

    version: str
    created_at: str  # ISO 8601 UTC
    feature_names: list[str]  # in column order
    training_period: dict[str, str]  # {"start": iso, "end": iso}, from the caller
    record_count: int  # reports the training features were computed from
    sample_count: int  # rows of the training feature matrix
    data_hash: str  # see feature_matrix_hash
    threshold: float  # on the anomaly score
    expected_alert_rate: float
    score_quantiles: dict[str, float]  # SCORE_QUANTILES of the training anomaly scores
    feature_quantiles: dict[str, dict[str, float]]  # feature -> FEATURE_QUANTILES
    library_versions: dict[str, str]  # numpy, scikit-learn, python, fundwatch
    n_estimators: int
    max_samples: int  # as configured
    effective_max_samples: int  # min(max_samples, sample_count): what the trees used
    random_state: int
    max_depth: int  # splits on the longest root-to-leaf path
    sklearn_offset: float  # IsolationForest.offset_, for reference (contamination="auto")


class ForestModel:
    """A trained forest: its metadata, and a vectorised scorer for batches of feature rows."""

    def __init__(self, metadata: ModelMetadata, trees: IsolationTrees) -> None:
        # Assignable: training replaces the metadata (e.g. quantiles in natural units).
        self.metadata = metadata
        self.trees = trees
        _check_model(metadata, trees, source="model")

    def anomaly_scores(self, features: np.ndarray) -> np.ndarray:
        """Anomaly score of each feature row (n, n_features): float64 (n,), higher = stranger.

        Raises ValueError on a wrong shape or non-finite values."""
        return self.trees.anomaly_scores(_checked_matrix(features, self.trees.n_features))

    def flagged(self, features: np.ndarray) -> np.ndarray:
        """Rows whose anomaly score reaches the threshold."""
        return self.anomaly_scores(features) >= self.metadata.threshold

    def check_features(self, expected_names: Sequence[str]) -> None:
        """Refuse a model trained on other features than the running code computes."""
        model_names = list(self.metadata.feature_names)
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
            f"model {self.metadata.version} was trained on other features than this code "
            f"computes ({len(model_names)} vs {len(expected)}): {detail}"
        )

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
    def load(cls, directory: Path) -> ForestModel:
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
    def from_bytes(cls, blob: bytes) -> ForestModel:
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

    def _artifact_files(self) -> tuple[bytes, bytes]:
        _check_model(self.metadata, self.trees, source="model")
        npz_bytes = _npz_bytes(self.trees.arrays)
        document = {
            "artifact_format": ARTIFACT_FORMAT,
            "arrays_sha256": _arrays_sha256(self.trees.arrays),
            **asdict(self.metadata),
        }
        json_bytes = json.dumps(document, indent=2, allow_nan=False).encode() + b"\n"
        return json_bytes, npz_bytes

    @classmethod
    def _from_files(cls, json_bytes: bytes, npz_bytes: bytes, source: str) -> ForestModel:
        json_source, npz_source = f"{source}/{METADATA_FILE}", f"{source}/{ARRAYS_FILE}"
        document = _parse_json(json_bytes, json_source)
        fmt = document.pop("artifact_format", None)
        if fmt != ARTIFACT_FORMAT:
            raise ModelArtifactError(
                f"{json_source}: artifact_format {fmt!r} is not supported "
                f"(this code reads format {ARTIFACT_FORMAT})"
            )
        expected_hash = document.pop("arrays_sha256", None)
        meta = _metadata_from_document(document, json_source)
        arrays = _read_npz(npz_bytes, npz_source)
        try:
            trees = IsolationTrees(arrays, len(meta.feature_names), meta.effective_max_samples)
        except ForestStructureError as exc:
            raise ModelArtifactError(f"{npz_source}: {exc}") from exc
        if _arrays_sha256(trees.arrays) != expected_hash:
            raise ModelArtifactError(
                f"{npz_source}: arrays do not match arrays_sha256 in {METADATA_FILE} "
                "(corrupted, or the two files come from different models)"
            )
        _check_model(meta, trees, json_source)
        return cls(meta, trees)


def train_forest(
    features: np.ndarray,
    feature_names: Sequence[str],
    config: TrainingConfig,
    *,
    training_period: Mapping[str, str],
    record_count: int,
    version: str | None = None,
) -> tuple[ForestModel, IsolationForest]:
    """Fit an isolation forest on feature rows; calibrate the threshold on their scores.

    Returns the model and the fitted scikit-learn forest it was flattened from.
    """
    names = list(feature_names)
    problem = _feature_names_problem(names)
    if problem:
        raise ValueError(f"feature_names: {problem}")
    matrix = _checked_matrix(features, len(names))
    if matrix.shape[0] < 1:
        raise ValueError("features has no rows")
    _check_config(config)
    if set(training_period) != {"start", "end"} or not all(
        isinstance(v, str) for v in training_period.values()
    ):
        raise ValueError(f"training_period must be {{'start': iso, 'end': iso}}: {training_period}")

    n_samples = matrix.shape[0]
    estimator = IsolationForest(
        n_estimators=config.n_estimators,
        # sklearn would clip a larger max_samples to n_samples too, but with a warning
        max_samples=min(config.max_samples, n_samples),
        contamination="auto",
        random_state=config.random_state,
    )
    estimator.fit(matrix)
    trees = IsolationTrees.from_sklearn(estimator)

    scores = trees.anomaly_scores(matrix)
    data_hash = feature_matrix_hash(matrix, names)
    created = datetime.now(UTC).replace(microsecond=0)
    meta = ModelMetadata(
        version=version or f"{created:%Y-%m-%dT%H-%M-%SZ}-{data_hash[:8]}",
        created_at=created.isoformat().replace("+00:00", "Z"),
        feature_names=names,
        training_period=dict(training_period),
        record_count=int(record_count),
        sample_count=n_samples,
        data_hash=data_hash,
        threshold=float(np.quantile(scores, 1.0 - config.expected_alert_rate)),
        expected_alert_rate=float(config.expected_alert_rate),
        score_quantiles={q: float(np.quantile(scores, float(q))) for q in SCORE_QUANTILES},
        feature_quantiles={
            name: {q: float(np.quantile(matrix[:, i], float(q))) for q in FEATURE_QUANTILES}
            for i, name in enumerate(names)
        },
        library_versions=library_versions(),
        n_estimators=config.n_estimators,
        max_samples=config.max_samples,
        effective_max_samples=trees.effective_max_samples,
        random_state=config.random_state,
        max_depth=trees.max_depth,
        sklearn_offset=float(estimator.offset_),
    )
    return ForestModel(meta, trees), estimator


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


def _checked_matrix(features: np.ndarray, n_features: int) -> np.ndarray:
    matrix = np.asarray(features)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(f"features must have shape (n, {n_features}), got {matrix.shape}")
    if not (np.issubdtype(matrix.dtype, np.number) and not np.iscomplexobj(matrix)):
        raise ValueError(f"features must be real numbers, got dtype {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        rows = np.flatnonzero(~np.all(np.isfinite(matrix), axis=1))
        raise ValueError(
            f"features have non-finite values in {len(rows)} row(s), first row {rows[0]}"
        )
    return matrix


def _check_config(config: TrainingConfig) -> None:
    if config.n_estimators < 1 or config.max_samples < 1:
        raise ValueError(f"n_estimators and max_samples must be >= 1: {config}")
    if not 0.0 < config.expected_alert_rate < 1.0:
        raise ValueError(f"expected_alert_rate must be in (0, 1): {config}")


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


def _check_model(meta: ModelMetadata, trees: IsolationTrees, source: str) -> None:
    """Metadata consistent in itself and with the trees."""
    _check_metadata_types(asdict(meta), source)
    _check_feature_names(meta.feature_names, source)
    if len(meta.feature_names) != trees.n_features:
        raise ModelArtifactError(
            f"{source}: {len(meta.feature_names)} feature_names, trees use {trees.n_features}"
        )
    if meta.n_estimators != trees.n_trees:
        raise ModelArtifactError(
            f"{source}: n_estimators is {meta.n_estimators}, arrays hold {trees.n_trees} trees"
        )
    if meta.effective_max_samples != trees.effective_max_samples:
        raise ModelArtifactError(f"{source}: effective_max_samples disagrees with the trees")
    if not (math.isfinite(meta.threshold) and 0.0 < meta.threshold <= 1.0):
        raise ModelArtifactError(f"{source}: threshold {meta.threshold!r} not in (0, 1]")
    if set(meta.score_quantiles) != set(SCORE_QUANTILES):
        raise ModelArtifactError(f"{source}: score_quantiles keys must be {SCORE_QUANTILES}")
    if set(meta.feature_quantiles) != set(meta.feature_names):
        raise ModelArtifactError(f"{source}: feature_quantiles keys differ from feature_names")
    if set(meta.training_period) != {"start", "end"}:
        raise ModelArtifactError(f"{source}: training_period must have start and end")


def _check_metadata_types(document: Mapping[str, Any], source: str) -> None:
    hints = typing.get_type_hints(ModelMetadata)
    for spec in fields(ModelMetadata):
        value = document[spec.name]
        if not _conforms(value, hints[spec.name]):
            raise ModelArtifactError(
                f"{source}: field {spec.name!r} = {_short(value)} is not of type "
                f"{_type_name(hints[spec.name])}"
            )


def _metadata_from_document(document: dict[str, Any], source: str) -> ModelMetadata:
    names = {spec.name for spec in fields(ModelMetadata)}
    missing = sorted(names - set(document))
    unknown = sorted(set(document) - names)
    if missing or unknown:
        raise ModelArtifactError(f"{source}: fields missing {missing}, unknown {unknown}")
    _check_metadata_types(document, source)
    _check_feature_names(document["feature_names"], source)
    # JSON writes 1.0 as 1.0, but a hand-edited file may hold 1: store floats as floats.
    hints = typing.get_type_hints(ModelMetadata)
    values = {name: _as_declared(document[name], hints[name]) for name in names}
    return ModelMetadata(**values)


def _conforms(value: Any, hint: Any) -> bool:
    """isinstance for the JSON-shaped types of ModelMetadata; floats must be finite."""
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
