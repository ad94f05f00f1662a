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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
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
        amount = report.amount_fen
        inflow = report.direction == "in"
        # Positional, in the order of the fields: dataclasses.replace costs twice as much,
        # once per report.
        return AccountLedger(
            partition,
            offset,
            self.report_count + 1,
            self.inflow_count + 1 if inflow else self.inflow_count,
            self.inflow_fen + amount if inflow else self.inflow_fen,
            self.outflow_count if inflow else self.outflow_count + 1,
            self.outflow_fen if inflow else self.outflow_fen + amount,
            min(self.first_tx_ms, tx_ms) if self.report_count else tx_ms,
            max(self.last_tx_ms, tx_ms),
            self.duplicate_count,
            index,
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
    """The identities of one account's reports within the horizon, by identity digest.

    Kept as the packed items of its encoding, so that an account touched batch after batch
    costs one item packed per new report, not a decoding and an encoding of all of them:
    ``to_bytes`` joins the items, and remembers its result so that a reader can tell whether
    the table still holds exactly this value (``encodes``)."""

    __slots__ = ("_encoded", "_items", "_newest_ms", "_oldest_ms")

    def __init__(self, entries: dict[bytes, SeenReport] | None = None) -> None:
        self._items: dict[bytes, bytes] = {}
        self._oldest_ms = 2**63 - 1
        self._newest_ms = -(2**63)
        self._encoded: bytes | None = None
        for identity, entry in (entries or {}).items():
            self.add(identity, entry)

    @property
    def entries(self) -> dict[bytes, SeenReport]:
        return {identity: _unpack_item(item) for identity, item in self._items.items()}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, identity: bytes) -> SeenReport | None:
        item = self._items.get(identity)
        return _unpack_item(item) if item is not None else None

    def add(self, identity: bytes, entry: SeenReport) -> None:
        self.add_position(
            identity, entry.digest, entry.partition, entry.offset, entry.index, entry.tx_ms
        )

    def add_position(
        self, identity: bytes, digest: bytes, partition: int, offset: int, index: int, tx_ms: int
    ) -> None:
        """``add`` without the SeenReport: the ingest stage's way, once per accepted report."""
        self._items[identity] = _ACCOUNT_SEEN_ITEM.pack(
            identity, digest, partition, offset, index, tx_ms
        )
        if tx_ms < self._oldest_ms:
            self._oldest_ms = tx_ms
        if tx_ms > self._newest_ms:
            self._newest_ms = tx_ms
        self._encoded = None

    def identities(self) -> Iterable[bytes]:
        """The identity digests it holds."""
        return self._items.keys()

    def newest_ms(self) -> int:
        return self._newest_ms if self._items else 0

    def partition(self) -> int:
        """The partition of the entry added last: where the value is written."""
        return _unpack_item(next(reversed(self._items.values()))).partition if self._items else 0

    def forget_before(self, cutoff_ms: int, latest_ms: int | None = None) -> int:
        """Drop the entries older than ``cutoff_ms`` (and after ``latest_ms``); how many."""
        if self._oldest_ms >= cutoff_ms and (latest_ms is None or self._newest_ms <= latest_ms):
            return 0  # nothing to look at: the usual case, checked in O(1)
        kept = {}
        for identity, item in self._items.items():
            tx_ms = _item_tx_ms(item)
            if tx_ms >= cutoff_ms and (latest_ms is None or tx_ms <= latest_ms):
                kept[identity] = item
        gone = len(self._items) - len(kept)
        self._items = kept
        times = [_item_tx_ms(item) for item in kept.values()]
        self._oldest_ms = min(times, default=2**63 - 1)
        self._newest_ms = max(times, default=-(2**63))
        self._encoded = None
        return gone

    def encodes(self, blob: bytes) -> bool:
        """Whether ``blob`` is the very value this last encoded (and nothing changed since)."""
        return self._encoded is blob

    def to_bytes(self) -> bytes:
        if self._encoded is None:
            self._encoded = _ACCOUNT_SEEN_PREFIX + b"".join(self._items.values())
        return self._encoded

    @classmethod
    def from_bytes(cls, blob: bytes) -> AccountSeen:
        size = _ACCOUNT_SEEN_ITEM.size
        if not is_account_seen(blob) or (len(blob) - 1) % size:
            raise StateDecodeError(f"account seen: {len(blob)} bytes, version {blob[:1]!r}")
        seen = cls()
        seen._items = {blob[i : i + 8]: blob[i : i + size] for i in range(1, len(blob), size)}
        if seen._items:
            times = [_TX_MS.unpack_from(blob, i + _TX_MS_AT)[0] for i in range(1, len(blob), size)]
            seen._oldest_ms, seen._newest_ms = min(times), max(times)
        seen._encoded = blob
        return seen


_ACCOUNT_SEEN_PREFIX = bytes((_ACCOUNT_SEEN_VERSION,))
_TX_MS = struct.Struct("<q")
_TX_MS_AT = _ACCOUNT_SEEN_ITEM.size - _TX_MS.size  # tx_time is the item's last field


def _unpack_item(item: bytes) -> SeenReport:
    _, digest, partition, offset, index, tx_ms = _ACCOUNT_SEEN_ITEM.unpack(item)
    return SeenReport(digest, partition, offset, tx_ms, index)


def _item_tx_ms(item: bytes) -> int:
    tx_ms: int = _TX_MS.unpack_from(item, _TX_MS_AT)[0]
    return tx_ms


def is_account_seen(blob: bytes) -> bool:
    """Whether a seen-reports value is an account's identities (else an older SeenReport)."""
    return blob[:1] == _ACCOUNT_SEEN_PREFIX


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
    read to confirm it. Under an offline run's write-back (ingest.pipeline) the stage holds
    values newer than the table's: a rebuild takes those instead (``holder``'s ``unwritten``).
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

    def holder(
        self, identity: bytes, unwritten: Mapping[str, tuple[int, AccountSeen]] | None = None
    ) -> str | None:
        """The account whose value holds ``identity``, as far as the index knows.
        ``unwritten``: values newer than the table's, by account (not yet written to it)."""
        if self._expected_len != len(self.values):
            self._rebuild(unwritten or {})
        return self._holders.get(identity)

    def note(self, identity: bytes, account_id: str) -> None:
        self._holders[identity] = account_id

    def expect(self, written: Iterable[str]) -> None:
        """The stage is about to write these keys: count the new ones as expected."""
        if self._expected_len == len(self.values):
            self._expected_len += sum(1 for key in written if self.values.get(key) is None)

    def _rebuild(self, unwritten: Mapping[str, tuple[int, AccountSeen]]) -> None:
        holders: dict[bytes, str] = {}
        for key, blob in self.values.items():
            if is_account_seen(blob) and key not in unwritten:
                holders.update(dict.fromkeys(_identity_digests(blob), key))
        for key, (_, seen) in unwritten.items():
            holders.update(dict.fromkeys(seen.identities(), key))
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
