"""Publishing model artifacts on the compacted models topic, and listing them."""

from __future__ import annotations

from pathlib import Path

from kafka import KafkaProducer

from models.forest import FundraisingForest, ModelArtifactError
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings
from streams.topic_reader import read_all
from streams.topics import MODEL_MESSAGE_MAX_BYTES, ensure_topics


def publish_model(settings: Settings, directory: Path | None, version: str | None) -> str:
    """Publish the artifact in ``directory``, or re-publish ``version`` from the topic.

    The last artifact published is the one every worker uses, so re-publishing an older
    version rolls back. The artifact is checked here first: a broken one is never sent.
    """
    topic = settings.topics.name("models")
    if directory is None and version is None:
        raise ModelArtifactError("give a model directory or --version")
    # A directory's artifact is checked before anything touches Kafka.
    loaded = FundraisingForest.load(directory) if directory is not None else None
    blob = loaded.to_bytes() if loaded is not None else b""
    if loaded is not None and len(blob) > MODEL_MESSAGE_MAX_BYTES:
        # Said here, before Kafka, rather than as the producer's MessageSizeTooLargeError:
        # what grows with the city is the accounts' own past (models.peers.fit_own_limits).
        raise ModelArtifactError(
            f"{directory}: the model is {len(blob):,} bytes, more than the models topic takes "
            f"({MODEL_MESSAGE_MAX_BYTES:,}); it holds an own past for "
            f"{len(loaded.own_limits_):,} accounts"
        )
    ensure_topics(settings)
    if not blob:
        blob = _published(settings).get(version or "", b"")
        if not blob:
            raise ModelArtifactError(f"version {version!r} is not on {topic}")
    model = FundraisingForest.from_bytes(blob)
    producer = KafkaProducer(
        **kafka_python_kwargs(settings),
        acks="all",
        max_request_size=MODEL_MESSAGE_MAX_BYTES,
    )
    try:
        producer.send(topic, key=model.version_.encode(), value=blob).get(timeout=60)
    finally:
        producer.close()
    return (
        f"published model {model.version_} ({len(blob):,} bytes) on {topic}; "
        "running workers switch to it before their next batch"
    )


def _published(settings: Settings) -> dict[str, bytes]:
    """Version -> artifact, in publication order (the last one is in use)."""
    published: dict[str, bytes] = {}
    for key, value in read_all(settings, settings.topics.name("models")):
        if key is not None and value is not None:
            published.pop(key.decode(), None)
            published[key.decode()] = value
    return published


def list_models(settings: Settings) -> list[str]:
    """Published versions in publication order; workers use the last one that is valid."""
    published = _published(settings)
    if not published:
        return [f"no model published on {settings.topics.name('models')} yet"]
    rows: list[tuple[str, str, bool]] = []
    for version, blob in published.items():
        try:
            model = FundraisingForest.from_bytes(blob)
        except ModelArtifactError as exc:
            rows.append((version, f"INVALID (refused by workers): {exc}", False))
            continue
        detail = (
            f"created {model.created_at_}, {model.n_samples_fit_:,} training rows, "
            f"threshold {model.threshold_:.4f}"
        )
        rows.append((version, detail, True))
    in_use = max((i for i, row in enumerate(rows) if row[2]), default=None)
    return [
        f"{version}  {detail}{'  <- in use' if i == in_use else ''}"
        for i, (version, detail, _) in enumerate(rows)
    ]
