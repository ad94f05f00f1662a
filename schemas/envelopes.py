"""Envelopes fundwatch writes: dead letters (rejected input) and leads (suspected accounts).

Each has a JSON Schema file in ``schemas/json`` for the people who consume the topic.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.errors import FieldError, ReportRejected

DEAD_LETTER_VERSION = 1
LEAD_VERSION = 1


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a message was read: enough to find the original in Kafka."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    # The report's line in a batched message (JSON lines, ingest.pipeline); 0 for a message
    # of one report.
    index: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A report fundwatch could not accept, with every reason and its original bytes."""

    reason: str
    errors: tuple[FieldError, ...]
    source: SourcePosition
    original: bytes
    original_key: bytes | None
    dead_lettered_at: datetime
    bank_id: str | None = None
    report_id: str | None = None
    worker: str = field(default_factory=socket.gethostname)

    @classmethod
    def from_rejection(
        cls,
        rejection: ReportRejected,
        source: SourcePosition,
        original: bytes,
        original_key: bytes | None,
        now: datetime,
        identity: tuple[str | None, str | None] = (None, None),
    ) -> DeadLetter:
        return cls(
            reason=rejection.reason.value,
            errors=tuple(rejection.errors),
            source=source,
            original=original,
            original_key=original_key,
            dead_lettered_at=now,
            bank_id=identity[0],
            report_id=identity[1],
        )

    def to_json(self) -> bytes:
        try:
            original_text: str | None = self.original.decode("utf-8")
        except UnicodeDecodeError:
            original_text = None
        body: dict[str, Any] = {
            "schema_version": DEAD_LETTER_VERSION,
            "reason": self.reason,
            "errors": [e.as_dict() for e in self.errors],
            "source": {
                "topic": self.source.topic,
                "partition": self.source.partition,
                "offset": self.source.offset,
                "timestamp_ms": self.source.timestamp_ms,
                "index": self.source.index,
            },
            "bank_id": self.bank_id,
            "report_id": self.report_id,
            # The exact bytes, always; the text too when they are UTF-8, for a human reader.
            "original_base64": base64.b64encode(self.original).decode("ascii"),
            "original_text": original_text,
            "original_key_base64": (
                base64.b64encode(self.original_key).decode("ascii")
                if self.original_key is not None
                else None
            ),
            "dead_lettered_at": self.dead_lettered_at.astimezone(UTC).isoformat(),
            "worker": self.worker,
        }
        return orjson.dumps(body)

    @staticmethod
    def original_bytes(body: dict[str, Any]) -> bytes:
        """The original message bytes of a decoded dead letter (for replay after a fix)."""
        return base64.b64decode(body["original_base64"])


def best_effort_identity(raw: bytes) -> tuple[str | None, str | None]:
    """(bank_id, report_id) of a rejected message when they can be read, for triage."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    bank, report = record.get("bank_id"), record.get("report_id")
    return (
        bank[:32] if isinstance(bank, str) else None,
        report[:64] if isinstance(report, str) else None,
    )
