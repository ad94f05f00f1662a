"""Per-account and per-report state kept by the ingest stage, with compact binary codecs.

Two tables, both keyed so that they live on the partition of the account's reports:

- ``AccountLedger`` per account: totals of accepted reports and the input offset of the last
  report applied. The offset makes a replay after a crash harmless: a report at or below it is
  already in the state, so it is skipped; the state is written whole, so it is either in Kafka
  with the report or without it.
- ``SeenReport`` per (bank_id, report_id): the content digest of the first accepted copy and
  where it was read. A later message with the same identity is a re-send (duplicate or
  conflict); the same message read again after a crash is recognised by its offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace

from schemas.errors import EX_DATAERR, FundwatchError
from schemas.report import TransactionReport

# Version 2 adds the line within a batched message (the index) to the position; a version 1
# value was written for messages of one report, whose index is 0.
_LEDGER_V1 = struct.Struct("<Biqqqqqqqqq")
_LEDGER = struct.Struct("<Biqqqqqqqqqi")
_LEDGER_VERSION = 2
_SEEN_V1 = struct.Struct("<B8siqq")
_SEEN = struct.Struct("<B8siqqi")
_SEEN_VERSION = 2


class StateDecodeError(FundwatchError, ValueError, exit_code=EX_DATAERR, http_status=500):
    """A stored state value that this version cannot read (corrupt, or from a newer version)."""


@dataclass(frozen=True, slots=True)
class AccountLedger:
    partition: int = -1
    last_offset: int = -1
    report_count: int = 0
    inflow_count: int = 0
    inflow_fen: int = 0
    outflow_count: int = 0
    outflow_fen: int = 0
    first_tx_ms: int = 0
    last_tx_ms: int = 0
    duplicate_count: int = 0
    last_index: int = 0  # the line of the last report applied within its batched message

    def already_applied(self, partition: int, offset: int, index: int = 0) -> bool:
        return partition == self.partition and (offset, index) <= (
            self.last_offset,
            self.last_index,
        )

    def apply(
        self, report: TransactionReport, partition: int, offset: int, index: int = 0
    ) -> AccountLedger:
        tx_ms = report.tx_epoch_ms
        inflow = report.direction == "in"
        return replace(
            self,
            partition=partition,
            last_offset=offset,
            last_index=index,
            report_count=self.report_count + 1,
            inflow_count=self.inflow_count + inflow,
            inflow_fen=self.inflow_fen + (report.amount_fen if inflow else 0),
            outflow_count=self.outflow_count + (not inflow),
            outflow_fen=self.outflow_fen + (0 if inflow else report.amount_fen),
            first_tx_ms=min(self.first_tx_ms, tx_ms) if self.report_count else tx_ms,
            last_tx_ms=max(self.last_tx_ms, tx_ms),
        )

    def to_bytes(self) -> bytes:
        return _LEDGER.pack(
            _LEDGER_VERSION,
            self.partition,
            self.last_offset,
            self.report_count,
            self.inflow_count,
            self.inflow_fen,
            self.outflow_count,
            self.outflow_fen,
            self.first_tx_ms,
            self.last_tx_ms,
            self.duplicate_count,
            self.last_index,
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> AccountLedger:
        if len(blob) == _LEDGER.size and blob[0] == _LEDGER_VERSION:
            return cls(*_LEDGER.unpack(blob)[1:])
        if len(blob) == _LEDGER_V1.size and blob[0] == 1:
            return cls(*_LEDGER_V1.unpack(blob)[1:])
        raise StateDecodeError(f"account ledger: {len(blob)} bytes, version {blob[:1]!r}")


@dataclass(frozen=True, slots=True)
class SeenReport:
    digest: bytes
    partition: int
    offset: int
    tx_ms: int
    index: int = 0  # the line within its batched message

    def is_same_message(self, partition: int, offset: int, index: int = 0) -> bool:
        return (self.partition, self.offset, self.index) == (partition, offset, index)

    def to_bytes(self) -> bytes:
        return _SEEN.pack(
            _SEEN_VERSION, self.digest, self.partition, self.offset, self.tx_ms, self.index
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> SeenReport:
        if len(blob) == _SEEN.size and blob[0] == _SEEN_VERSION:
            return cls(*_SEEN.unpack(blob)[1:])
        if len(blob) == _SEEN_V1.size and blob[0] == 1:
            return cls(*_SEEN_V1.unpack(blob)[1:])
        raise StateDecodeError(f"seen report: {len(blob)} bytes, version {blob[:1]!r}")


def expired_reports(
    entries: Iterable[tuple[str, bytes]], horizon_ms: int, latest_ms: int | None = None
) -> list[tuple[str, int]]:
    """(key, partition) of the seen-report entries older than ``horizon_ms`` before the newest.

    A re-send is recognised while the original's tx_time is within the horizon of the newest
    report this worker holds; older identities are forgotten so the table stays bounded.
    ``latest_ms``: the latest tx_time a report can have now (the clock plus the ingest's future
    tolerance). An entry after it is from a far-future report accepted before that rule: it is
    forgotten, and it does not count as the newest, which would forget every other entry.
    """
    decoded = [(key, SeenReport.from_bytes(blob)) for key, blob in entries]
    if latest_ms is not None:
        future = [(key, entry.partition) for key, entry in decoded if entry.tx_ms > latest_ms]
        decoded = [(key, entry) for key, entry in decoded if entry.tx_ms <= latest_ms]
    else:
        future = []
    if not decoded:
        return future
    cutoff = max(entry.tx_ms for _, entry in decoded) - horizon_ms
    return future + [(key, entry.partition) for key, entry in decoded if entry.tx_ms < cutoff]
