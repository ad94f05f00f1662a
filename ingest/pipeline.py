"""The ingest stage as a pure function over a batch of messages: no Kafka in here.

The Faust agent hands it the messages it took from the input topic and a read view of its
tables, then writes back what it returns. The offline tools call the same function with
plain dicts, so both paths decide every message the same way.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, cast

from ingest.partitioning import partition_for
from ingest.state import (
    AccountLedger,
    AccountSeen,
    SeenReport,
    SeenTable,
    SeenValues,
    identity_digest,
    is_account_seen,
)
from schemas.envelopes import DeadLetter, SourcePosition, best_effort_identity
from schemas.errors import FieldError, RejectReason, ReportRejected
from schemas.report import TransactionReport, parse_report, report_key


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # an exact re-send of a report already accepted
    REPLAYED = "replayed"  # the same message read again after a restart: already applied
    REJECTED = "rejected"  # dead-lettered


@dataclass(frozen=True, slots=True)
class InputMessage:
    key: bytes | None
    value: bytes
    source: SourcePosition
    # A batched message: JSON lines, one report per line (the Kafka header BATCH_HEADER says
    # so), or one line of such a message.
    batched: bool = False


# A bank that sends many reports at once may put up to ``max_batched_reports`` of them in one
# message as JSON lines, with this header; every report in it must belong to the partition the
# message is on (its account_id's partition under Kafka's default partitioner), which the
# message key then cannot say: it is ignored.
BATCH_HEADER = ("content-type", b"application/x-ndjson")
MAX_BATCHED_REPORTS = 1000
# Accounts whose decoded report identities the stage keeps between batches.
DECODED_SEEN_ACCOUNTS = 10_000


# A bank's own input topic, <prefix>.reports.<bank_id>; the whole name must be a legal Kafka
# topic name, so an offline source (a file name with a "file:" in it, say) never matches.
BANK_TOPIC = re.compile(r"^[A-Za-z0-9._-]+\.reports\.(?P<bank_id>[A-Za-z0-9_-]{1,32})$")
# <prefix>.reports.dlq holds the dead letters and is never an input.
NOT_A_BANK = frozenset({"dlq"})


def topic_bank(topic: str) -> str | None:
    """The bank whose own topic this is, or None for the shared reports topic (and anything
    that is not a bank's topic): a report read from a bank's topic must carry that bank_id."""
    match = BANK_TOPIC.match(topic)
    if match is None or match.group("bank_id") in NOT_A_BANK:
        return None
    return match.group("bank_id")


DAY_MS = 86_400_000
# Beijing midnight of 1 January 2000. China's large-value and suspicious transaction reports
# began with the People's Bank's rules of 2003, so no genuine report is older; what is older is
# a placeholder a bank's system wrote for a missing date (1970-01-01, 1900-01-01, 0001-01-01).
EARLIEST_TX_MS = int(datetime.fromisoformat("2000-01-01T00:00:00+08:00").timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TxTimeRules:
    """Which tx_time a report may carry, against the broker timestamp of its message.

    A report describes money that has already moved, so its tx_time is at most
    ``future_tolerance_ms`` after the message reached Kafka (room for clock skew and a wrong
    time zone, not for a date in the future); and not before ``earliest_tx_ms``. A message
    without a broker timestamp (a report file replayed offline) is held to the earliest date
    only: for a valid report both paths then decide alike."""

    future_tolerance_ms: int = DAY_MS
    earliest_tx_ms: int = EARLIEST_TX_MS

    def errors(self, report: TransactionReport, broker_ms: int | None) -> list[FieldError]:
        tx_ms = report.tx_epoch_ms
        if tx_ms < self.earliest_tx_ms:
            earliest = _iso(self.earliest_tx_ms)
            return [
                FieldError(
                    "tx_time",
                    "before_earliest",
                    f"tx_time {report.tx_time.isoformat()} is before {earliest}, the earliest "
                    "date accepted (FUNDWATCH_EARLIEST_TX_TIME): a placeholder, not a real date",
                )
            ]
        if broker_ms is not None and tx_ms > broker_ms + self.future_tolerance_ms:
            ahead_hours = (tx_ms - broker_ms) / 3_600_000
            return [
                FieldError(
                    "tx_time",
                    "in_future",
                    f"tx_time {report.tx_time.isoformat()} is {ahead_hours:,.1f} h after the "
                    f"message reached Kafka ({_iso(broker_ms)}); at most "
                    f"{self.future_tolerance_ms / 3_600_000:g} h ahead is accepted "
                    "(FUNDWATCH_FUTURE_TOLERANCE_SECONDS): a report describes money that has "
                    "already moved",
                )
            ]
        return []

    def state_bound_ms(self, broker_ms: int | None) -> int | None:
        """The latest event time an account's state can hold when a report with this broker
        timestamp arrives (models.account_state recovers a state beyond it)."""
        return None if broker_ms is None else broker_ms + self.future_tolerance_ms


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat()


class ReadView(Protocol):
    """What the stage needs of a table: a lookup by key (a dict or a Faust table)."""

    def get(self, key: str, default: None = None) -> bytes | None: ...


@dataclass
class BatchOutcome:
    verdicts: list[tuple[Verdict, str | None]] = field(default_factory=list)  # (verdict, bank_id)
    accepted: list[tuple[InputMessage, TransactionReport]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # Latest value per account with the partition it belongs to; written once per batch:
    # the ledger (inside the account's state) and the account's report identities (the
    # seen-reports table).
    ledger_writes: dict[str, tuple[int, AccountLedger]] = field(default_factory=dict)
    # Under write-back (IngestStage) only the values the stage stops keeping decoded.
    seen_writes: dict[str, tuple[int, AccountSeen]] = field(default_factory=dict)


class IngestStage:
    """Validates, de-duplicates and applies reports to the per-account ledgers.

    ``ledger_of`` gives the stored ledger of an account (a new one if it has none): the
    caller decides where ledgers live; ``seen`` is the table of report identities (values
    by account, ingest.state.SeenTable; a plain dict is wrapped in one).
    """

    def __init__(
        self,
        ledger_of: Callable[[str], AccountLedger],
        seen: ReadView,
        tx_time_rules: TxTimeRules | None = None,
        partitions: int | None = None,
        max_batched_reports: int = MAX_BATCHED_REPORTS,
        write_back: bool = False,
        decoded_seen_accounts: int = DECODED_SEEN_ACCOUNTS,
    ) -> None:
        """``partitions``: of the input topics, to check that each report of a batched
        message belongs to the message's partition (None: not checked, as offline).

        ``write_back``: for a run with no changelog to feed (a backtest, training). A touched
        account's identities then stay decoded and are written only when they leave the
        ``decoded_seen_accounts`` kept, or at ``flush_seen``: ``seen_writes`` holds only
        those. A worker writes every touched account's identities once per batch."""
        self._ledger_of = ledger_of
        # A ReadView that is not a SeenTable is a dict (the offline paths and the tests).
        self._seen = seen if isinstance(seen, SeenTable) else SeenTable(cast(SeenValues, seen))
        self._batch_seen: dict[str, AccountSeen] = {}  # the values read this batch, decoded
        # Decoded values kept between batches, each used only while the table still holds
        # the exact value it encoded (least recently used first).
        self._decoded_seen: OrderedDict[str, AccountSeen] = OrderedDict()
        self._decoded_limit = decoded_seen_accounts
        self._write_back = write_back
        # Under write-back: the decoded values newer than the table's, as seen_writes holds
        # them (each also in _decoded_seen); whether there were any when the batch began.
        self._unwritten: dict[str, tuple[int, AccountSeen]] = {}
        self._unwritten_before = False
        self._lost = False
        self._tx_time_rules = tx_time_rules if tx_time_rules is not None else TxTimeRules()
        self._partitions = partitions
        self._max_batched = max_batched_reports
        self._topic_banks: dict[str, str | None] = {}  # topic_bank of each topic read

    def _topic_bank(self, topic: str) -> str | None:
        try:
            return self._topic_banks[topic]
        except KeyError:
            bank_id = self._topic_banks[topic] = topic_bank(topic)
            return bank_id

    def process(self, messages: Iterable[InputMessage], now: datetime) -> BatchOutcome:
        if self._lost:
            raise RuntimeError("a write-back ingest stage that failed has lost unwritten values")
        out = BatchOutcome()
        self._batch_seen = {}
        self._unwritten_before = bool(self._unwritten)
        try:
            for message in messages:
                if message.batched:
                    for line in self._lines(message, now, out):
                        self._process_one(line, now, out)
                else:
                    self._process_one(message, now, out)
            self._finish_seen(out)
        except BaseException:
            self.abandon_batch()
            raise
        return out

    def abandon_batch(self) -> bool:
        """The batch failed (here or in a later stage): none of its values is written.
        Whether values of the batches before, newer than the table's, were lost with it
        (write-back only): the stage then refuses to go on, as its caller must."""
        if self._write_back:
            # Values may be half-updated: decode afresh from the table next time.
            self._lost = self._lost or self._unwritten_before
            self._unwritten.clear()
            self._decoded_seen.clear()
        return self._lost

    def flush_seen(self) -> dict[str, tuple[int, AccountSeen]]:
        """Under write-back: every value newer than the table's, for the table (they stay
        decoded, and match the table once written with ``to_bytes``). Otherwise none."""
        writes, self._unwritten = self._unwritten, {}
        self._seen.expect(writes)
        return writes

    def _lines(self, message: InputMessage, now: datetime, out: BatchOutcome) -> list[InputMessage]:
        """The reports of a batched message, each with its line as its position's index."""
        lines = [
            InputMessage(
                message.key,
                line.rstrip(b"\r"),
                replace(message.source, index=index),
                batched=True,
            )
            for index, line in enumerate(message.value.split(b"\n"))
            if line.strip()
        ]
        if len(lines) > self._max_batched:
            too_many = _refused(
                RejectReason.BATCH_TOO_LARGE,
                "<message>",
                f"{len(lines)} reports in one batched message; at most "
                f"{self._max_batched}: split it",
            )
            self._reject(message, too_many, now, out, (None, None))
            return []
        return lines

    def _process_one(self, message: InputMessage, now: datetime, out: BatchOutcome) -> None:
        try:
            # A batched message's key is not any one report's account (see BATCH_HEADER).
            report = parse_report(message.value, None if message.batched else message.key)
        except ReportRejected as rejection:
            self._reject(message, rejection, now, out, best_effort_identity(message.value))
            return
        source = message.source
        if message.batched and self._partitions is not None:
            home = partition_for(report.account_id.encode(), self._partitions)
            if home != source.partition:
                wrong = _refused(
                    RejectReason.WRONG_PARTITION,
                    "account_id",
                    f"account {report.account_id!r} belongs to partition {home}, this "
                    f"batched message is on partition {source.partition}; batch each "
                    "partition's accounts together (Kafka's default partitioner)",
                )
                self._reject(message, wrong, now, out, report.identity)
                return
        topic_bank_id = self._topic_bank(source.topic)
        if topic_bank_id is not None and report.bank_id != topic_bank_id:
            # Checked before any state is read: a bank cannot touch another bank's ledgers
            # or report identities by naming it.
            mismatch = _refused(
                RejectReason.BANK_MISMATCH,
                "bank_id",
                f"report names bank {report.bank_id!r} but came on {source.topic}, the "
                f"topic of bank {topic_bank_id!r}; each bank sends its own reports only",
            )
            self._reject(message, mismatch, now, out, report.identity)
            return
        time_errors = self._tx_time_rules.errors(report, source.timestamp_ms)
        if time_errors:
            # Before any state is read too: a date in the future would become the account's
            # "now" and every later report of it would count as late.
            out_of_range = ReportRejected(RejectReason.TIME_OUT_OF_RANGE, time_errors)
            self._reject(message, out_of_range, now, out, report.identity)
            return
        ledger = self._ledger(report.account_id, out)
        identity = report_key(report.bank_id, report.report_id)
        identity_key = identity_digest(identity)
        seen = self._seen_entry(identity, identity_key, report.account_id)
        digest = report.content_digest()

        if ledger.already_applied(source.partition, source.offset, source.index):
            if seen is None:  # the crash came between the two table writes: repair
                self._add_seen(report, identity_key, digest, source, out)
            out.verdicts.append((Verdict.REPLAYED, report.bank_id))
            return
        if seen is not None and not seen.is_same_message(
            source.partition, source.offset, source.index
        ):
            if seen.digest != digest:
                conflict = _refused(
                    RejectReason.CONFLICT,
                    "report_id",
                    f"report ({report.bank_id}, {report.report_id}) was first accepted "
                    f"at partition {seen.partition} offset {seen.offset} with different "
                    "content; send a correction under a new report_id",
                )
                self._reject(message, conflict, now, out, report.identity)
                return
            # Recorded in the ledger so a replay of this duplicate is not counted again.
            out.ledger_writes[report.account_id] = (
                source.partition,
                _mark_duplicate(ledger, source),
            )
            out.verdicts.append((Verdict.DUPLICATE, report.bank_id))
            return

        out.ledger_writes[report.account_id] = (
            source.partition,
            ledger.apply(report, source.partition, source.offset, source.index),
        )
        self._add_seen(report, identity_key, digest, source, out)
        out.accepted.append((message, report))
        out.verdicts.append((Verdict.ACCEPTED, report.bank_id))

    def _ledger(self, account_id: str, out: BatchOutcome) -> AccountLedger:
        pending = out.ledger_writes.get(account_id)
        if pending is not None:
            return pending[1]
        return self._ledger_of(account_id)

    def _seen_entry(self, identity: str, identity_key: bytes, account_id: str) -> SeenReport | None:
        """The first accepted copy of this identity: in the account's own value; else in a
        per-report entry of before version 3 (read until the sweep forgets it); else in the
        value of another account this worker holds (the bank re-sent the report_id under
        another account: a conflict, the content names another account)."""
        entry = self._account_seen(account_id).get(identity_key)
        if entry is not None:
            return entry
        blob = self._seen.get(identity)
        if blob is not None and not is_account_seen(blob):
            return SeenReport.from_bytes(blob)
        holder = self._seen.holder(identity_key, self._unwritten)
        if holder is not None and holder != account_id:
            return self._account_seen(holder).get(identity_key)
        return None

    def _account_seen(self, account_id: str) -> AccountSeen:
        seen = self._batch_seen.get(account_id)
        if seen is None:
            unwritten = self._unwritten.get(account_id)
            if unwritten is not None:  # newer than the table's value (write-back)
                seen = unwritten[1]
                self._decoded_seen.move_to_end(account_id)
            else:
                blob = self._seen.get(account_id)
                cached = self._decoded_seen.pop(account_id, None)
                if blob is None:
                    seen = AccountSeen()
                elif cached is not None and cached.encodes(blob):
                    seen = cached
                else:
                    seen = AccountSeen.from_bytes(blob)
                self._decoded_seen[account_id] = seen
            self._batch_seen[account_id] = seen
            # Write-back evicts at the end of the batch, writing what it evicts.
            while not self._write_back and len(self._decoded_seen) > self._decoded_limit:
                self._decoded_seen.popitem(last=False)
        return seen

    def _add_seen(
        self,
        report: TransactionReport,
        identity_key: bytes,
        digest: bytes,
        source: SourcePosition,
        out: BatchOutcome,
    ) -> None:
        """Record the report's identity, content digest and position in its account's value."""
        account_id = report.account_id
        seen = self._account_seen(account_id)
        seen.add_position(
            identity_key, digest, source.partition, source.offset, source.index, report.tx_epoch_ms
        )
        self._seen.note(identity_key, account_id)
        out.seen_writes[account_id] = (source.partition, seen)

    def _finish_seen(self, out: BatchOutcome) -> None:
        """Each value written keeps the identities within the horizon of its newest report
        (the sweep forgets those of accounts that report no more)."""
        for _, seen in out.seen_writes.values():
            seen.forget_before(seen.newest_ms() - self._seen.horizon_ms)
        if self._write_back:
            # Each touched value stays decoded (in _decoded_seen since it was read); the table
            # gets those the cache no longer keeps, least recently used first.
            self._unwritten.update(out.seen_writes)
            out.seen_writes = {}
            while len(self._decoded_seen) > self._decoded_limit:
                account_id, _ = self._decoded_seen.popitem(last=False)
                evicted = self._unwritten.pop(account_id, None)
                if evicted is not None:
                    out.seen_writes[account_id] = evicted
        self._seen.expect(out.seen_writes)

    @staticmethod
    def _reject(
        message: InputMessage,
        rejection: ReportRejected,
        now: datetime,
        out: BatchOutcome,
        identity: tuple[str | None, str | None],
    ) -> None:
        out.dead_letters.append(
            DeadLetter.from_rejection(
                rejection, message.source, message.value, message.key, now, identity
            )
        )
        out.verdicts.append((Verdict.REJECTED, identity[0]))


def _mark_duplicate(ledger: AccountLedger, source: SourcePosition) -> AccountLedger:
    return replace(
        ledger,
        partition=source.partition,
        last_offset=source.offset,
        last_index=source.index,
        duplicate_count=ledger.duplicate_count + 1,
    )


def _refused(reason: RejectReason, field: str, text: str) -> ReportRejected:
    """A refusal with one error on ``field``, whose rule is named as the reason."""
    return ReportRejected(reason, [FieldError(field, reason.value, text)])
