"""Per-account and per-report state kept by the ingest stage, with compact binary codecs.

Two tables, both keyed so that they live on the partition of the account's reports:

- ``AccountLedger`` per account: totals of accepted reports and the input offset of the last
  report applied. The offset makes a replay after a crash harmless: a report at or below it is
  already in the state, so it is skipped; the state is written whole, so it is either in Kafka
  with the report or without it.
- ``AccountSeen`` per account, in the seen-reports table: the identities of the account's
  reports within the de-duplication horizon, each with the content digest of the first
  accepted copy and where it was read. A later message with the same identity is a re-send
  (duplicate or conflict); the same message read again after a crash is recognised by its
  position. One value per account, written once per batch like the ledger, instead of one
  entry per report.

Before version 3 the same table held one ``SeenReport`` per (bank_id, report_id), keyed by
``schemas.report.report_key`` (which holds a \x1f, so it never equals an account_id). Those
entries are no longer written; they are still read, as a fallback after the account's own
value, until the sweep (``sweep_seen``) forgets them past the horizon.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

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
# An account's identities: the version, then per report its identity digest, content digest,
# partition, offset, line within the message and tx_time (38 bytes a report).
_ACCOUNT_SEEN_VERSION = 3
_ACCOUNT_SEEN_ITEM = struct.Struct("<8s8sHqIq")
DEFAULT_DEDUP_HORIZON_MS = 35 * 86_400_000  # streams.settings dedup_horizon_days


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


def identity_digest(identity: str) -> bytes:
    """8 bytes standing for a report identity (``report_key``) inside an account's value."""
    return hashlib.blake2b(identity.encode(), digest_size=8).digest()


class AccountSeen:
    """The identities of one account's reports within the horizon, by identity digest."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict[bytes, SeenReport] | None = None) -> None:
        self.entries: dict[bytes, SeenReport] = entries if entries is not None else {}

    def get(self, identity: bytes) -> SeenReport | None:
        return self.entries.get(identity)

    def add(self, identity: bytes, entry: SeenReport) -> None:
        self.entries[identity] = entry

    def newest_ms(self) -> int:
        return max((entry.tx_ms for entry in self.entries.values()), default=0)

    def partition(self) -> int:
        """The partition of the entry added last: where the value is written."""
        return next(reversed(self.entries.values())).partition if self.entries else 0

    def forget_before(self, cutoff_ms: int, latest_ms: int | None = None) -> int:
        """Drop the entries older than ``cutoff_ms`` (and after ``latest_ms``); how many."""
        gone = [
            key
            for key, entry in self.entries.items()
            if entry.tx_ms < cutoff_ms or (latest_ms is not None and entry.tx_ms > latest_ms)
        ]
        for key in gone:
            del self.entries[key]
        return len(gone)

    def to_bytes(self) -> bytes:
        pack = _ACCOUNT_SEEN_ITEM.pack
        return bytes((_ACCOUNT_SEEN_VERSION,)) + b"".join(
            pack(key, e.digest, e.partition, e.offset, e.index, e.tx_ms)
            for key, e in self.entries.items()
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> AccountSeen:
        if not is_account_seen(blob) or (len(blob) - 1) % _ACCOUNT_SEEN_ITEM.size:
            raise StateDecodeError(f"account seen: {len(blob)} bytes, version {blob[:1]!r}")
        return cls(
            {
                key: SeenReport(digest, partition, offset, tx_ms, index)
                for key, digest, partition, offset, index, tx_ms in _ACCOUNT_SEEN_ITEM.iter_unpack(
                    memoryview(blob)[1:]
                )
            }
        )


def is_account_seen(blob: bytes) -> bool:
    """Whether a seen-reports value is an account's identities (else an older SeenReport)."""
    return blob[:1] == bytes((_ACCOUNT_SEEN_VERSION,))


def _identity_digests(blob: bytes) -> Iterator[bytes]:
    size = _ACCOUNT_SEEN_ITEM.size
    for start in range(1, len(blob) - size + 1, size):
        yield blob[start : start + 8]


class SeenValues(Protocol):
    """The seen-reports table's values as the ingest stage reads them (a dict, a Faust
    table's store)."""

    def get(self, key: str, default: None = None) -> bytes | None: ...

    def __len__(self) -> int: ...

    def items(self) -> Iterable[tuple[str, bytes]]: ...


class SeenTable:
    """The seen-reports table, with a worker-local index: identity digest -> the account whose
    value holds it, so that a report_id re-sent under another account is still found.

    The index is rebuilt from the values whenever they changed other than by the stage's own
    writes (a rebalance, a recovery, the sweep): the stage tells it what it will write
    (``expect``), and a count of values that differs from what it expects, or ``invalidate``,
    makes the next lookup rebuild it. An index entry is only a hint: the holder's value is
    read to confirm it.
    """

    def __init__(self, values: SeenValues, horizon_ms: int = DEFAULT_DEDUP_HORIZON_MS) -> None:
        self.values = values
        self.horizon_ms = horizon_ms
        self._holders: dict[bytes, str] = {}
        self._expected_len: int | None = None

    def get(self, key: str, default: None = None) -> bytes | None:
        return self.values.get(key)

    def invalidate(self) -> None:
        self._expected_len = None

    def holder(self, identity: bytes) -> str | None:
        """The account whose value holds ``identity``, as far as the index knows."""
        if self._expected_len != len(self.values):
            self._rebuild()
        return self._holders.get(identity)

    def note(self, identity: bytes, account_id: str) -> None:
        self._holders[identity] = account_id

    def expect(self, written: Iterable[str]) -> None:
        """The stage is about to write these keys: count the new ones as expected."""
        if self._expected_len == len(self.values):
            self._expected_len += sum(1 for key in written if self.values.get(key) is None)

    def _rebuild(self) -> None:
        holders: dict[bytes, str] = {}
        for key, blob in self.values.items():
            if is_account_seen(blob):
                holders.update(dict.fromkeys(_identity_digests(blob), key))
        self._holders = holders
        self._expected_len = len(self.values)


@dataclass(frozen=True, slots=True)
class SeenRewrite:
    """What the sweep writes for a seen-reports key: the value left, or None (delete)."""

    key: str
    partition: int
    value: bytes | None
    forgotten: int  # identities dropped


def newest_seen_ms(
    entries: Iterable[tuple[str, bytes]], latest_ms: int | None = None
) -> int | None:
    """The newest tx_time the seen-reports values hold, not counting those after
    ``latest_ms`` (far-future reports accepted before that rule); None if there is none."""
    newest: int | None = None
    for _, blob in entries:
        if is_account_seen(blob):
            times = [e.tx_ms for e in AccountSeen.from_bytes(blob).entries.values()]
        else:
            times = [SeenReport.from_bytes(blob).tx_ms]
        for tx_ms in times:
            if (latest_ms is None or tx_ms <= latest_ms) and (newest is None or tx_ms > newest):
                newest = tx_ms
    return newest


def sweep_seen(key: str, blob: bytes, cutoff_ms: int, latest_ms: int | None) -> SeenRewrite | None:
    """The rewrite of one seen-reports value that forgets identities before ``cutoff_ms``
    (and after ``latest_ms``), or None when it keeps them all.

    An account's value keeps its recent identities; an older per-report entry (version 1 or
    2) is deleted once past the horizon, like any identity, and never written again."""
    if is_account_seen(blob):
        seen = AccountSeen.from_bytes(blob)
        partition = seen.partition()
        forgotten = seen.forget_before(cutoff_ms, latest_ms)
        if not forgotten:
            return None
        return SeenRewrite(key, partition, seen.to_bytes() if seen.entries else None, forgotten)
    entry = SeenReport.from_bytes(blob)
    if entry.tx_ms < cutoff_ms or (latest_ms is not None and entry.tx_ms > latest_ms):
        return SeenRewrite(key, entry.partition, None, 1)
    return None


def identities_held(blob: bytes) -> int:
    """How many report identities a seen-reports value holds."""
    return (len(blob) - 1) // _ACCOUNT_SEEN_ITEM.size if is_account_seen(blob) else 1


def sweep_cutoff(
    entries: Iterable[tuple[str, bytes]], horizon_ms: int, latest_ms: int | None = None
) -> int:
    """The tx_time before which the sweep forgets identities: ``horizon_ms`` before the
    newest one held (none held within ``latest_ms``: only the far-future ones go)."""
    newest = newest_seen_ms(entries, latest_ms)
    return newest - horizon_ms if newest is not None else -(2**63)


def expired_reports(
    entries: Iterable[tuple[str, bytes]], horizon_ms: int, latest_ms: int | None = None
) -> list[SeenRewrite]:
    """The rewrites that forget the identities older than ``horizon_ms`` before the newest.

    A re-send is recognised while the original's tx_time is within the horizon of the newest
    report this worker holds; older identities are forgotten so the table stays bounded.
    ``latest_ms``: the latest tx_time a report can have now (the clock plus the ingest's future
    tolerance). An identity after it is from a far-future report accepted before that rule: it
    is forgotten, and it does not count as the newest, which would forget every other one.
    """
    entries = list(entries)
    cutoff = sweep_cutoff(entries, horizon_ms, latest_ms)
    rewrites = [sweep_seen(key, blob, cutoff, latest_ms) for key, blob in entries]
    return [rewrite for rewrite in rewrites if rewrite is not None]
