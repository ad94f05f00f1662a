"""The pipeline over a file or a topic without a worker: for training and backtests.

Tables are plain dicts holding the same encoded values a worker's tables hold. The trail values
are written after every batch as the agent writes them; the account states and the report
identities (seen-reports) stay decoded between batches (write-back, models.pipeline) and reach
their table when they leave the decoded cache or when the table is read. The movements of
money trails a batch sends (models.trails) are read back before the next batch of reports, as
a worker reads them from the trails topic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TextIO, TypeVar

from tqdm import tqdm

from ingest.partitioning import account_key
from ingest.pipeline import InputMessage
from models.account_state import AccountState
from models.forest import FundraisingForest
from models.pipeline import Pipeline, PipelineConfig, PipelineOutcome, replay_collection
from models.trails import Movement
from models.watchlist import Watchlist
from schemas.envelopes import SourcePosition

OFFLINE_DECODED_ACCOUNTS = 100_000  # about 30 KB each decoded


class FileLines:
    """The non-empty lines of a JSONL file: iterated, the messages the replay reads (each
    keyed by its account_id, as the bank-side producer sends it); ``lines``, the bytes alone,
    which a parallel replay's parent splits by account without building a message of each
    (offline.parallel). Read once, as a generator is."""

    def __init__(self, path: Path, lines: Iterable[bytes] | None = None) -> None:
        self.path = path
        self.lines: Iterable[bytes] = lines if lines is not None else self._read()
        # "file:" cannot begin a topic name, so a file is never taken for a bank's topic.
        self.source = f"file:{path.name}"

    def _read(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            lines = (line.rstrip(b"\r\n") for line in f)
            yield from (line for line in lines if line)

    def __iter__(self) -> Iterator[InputMessage]:
        return line_messages(self.lines, self.path.name)


def file_messages(path: Path) -> FileLines:
    """Each non-empty line of a JSONL file as a message keyed by its account_id."""
    return FileLines(path)


M = TypeVar("M", InputMessage, bytes)


def with_progress(
    messages: Iterable[InputMessage] | FileLines,
    total_bytes: int | None,
    description: str,
    output: TextIO = sys.stderr,
    every: int = 1_000,
) -> Iterable[InputMessage] | FileLines:
    """The messages, showing on ``output`` the reports read, the rate and an ETA as they are
    read. ``total_bytes``: the size of the file they come from (None: no ETA); the total
    shown is estimated from the bytes read so far, so it settles within the first batches.
    A file's lines stay a file's (``FileLines``)."""
    if isinstance(messages, FileLines):
        shown = _progress(messages.lines, len, total_bytes, description, output, every)
        return FileLines(messages.path, shown)
    return _progress(messages, _value_length, total_bytes, description, output, every)


def _value_length(message: InputMessage) -> int:
    return len(message.value)


def _progress(
    items: Iterable[M],
    length: Callable[[M], int],
    total_bytes: int | None,
    description: str,
    output: TextIO,
    every: int,
) -> Iterator[M]:
    read = read_bytes = 0
    with tqdm(desc=description, unit=" reports", file=output) as bar:
        for item in items:
            read += 1
            read_bytes += length(item) + 1  # the line and its newline
            if read % every == 0:
                if total_bytes:
                    bar.total = max(read, round(read * total_bytes / read_bytes))
                bar.update(every)
            yield item
        if total_bytes:
            bar.total = read
        bar.update(read % every)


def line_messages(lines: Iterable[bytes], source: str) -> Iterator[InputMessage]:
    """Report lines as messages keyed by account_id; the position stands in for the offset."""
    for number, line in enumerate(lines):
        yield line_message(line, source, number)


def line_message(line: bytes, source: str, number: int) -> InputMessage:
    """Report line ``number`` (among the file's non-empty lines) of file ``source``."""
    # "file:" cannot begin a topic name, so a file is never taken for a bank's topic. The key
    # is the one feeds.producer sends (None for a line that is no JSON object, which
    # routing_key may still read an account_id from): the dead letters then match a stream's.
    return InputMessage(account_key(line), line, SourcePosition(f"file:{source}", 0, number))


class OfflineRunner:
    def __init__(
        self,
        config: PipelineConfig,
        model: FundraisingForest | None = None,
        watchlist: Watchlist | None = None,
        write_back: bool = True,
        decoded_accounts: int = OFFLINE_DECODED_ACCOUNTS,
    ) -> None:
        """``write_back=False``: encode every touched state and report identities once per
        batch, as a worker does for its changelogs (to count those writes); the results are
        the same either way. ``decoded_accounts``: how many accounts' states (and, apart,
        identities) write-back keeps decoded."""
        self.watchlist = watchlist
        self._accounts: dict[str, bytes] = {}
        self._seen: dict[str, bytes] = {}
        self.trails: dict[str, bytes] = {}
        self.config = config
        self.model = model
        # No changelog to feed: the states stay decoded (write-back), as many as a province's
        # active accounts, and are encoded when they leave the cache or are asked for.
        if write_back:
            config = replace(config, decoded_cache_accounts=decoded_accounts)
        self._pipeline = Pipeline(self._accounts, self._seen, config, self.trails, write_back)
        self._movements = 0

    @property
    def accounts(self) -> dict[str, bytes]:
        """The account table as a worker's would hold it after the batches so far."""
        for account_id, (_, blob) in self._pipeline.flush().items():
            self._accounts[account_id] = blob
        return self._accounts

    @property
    def seen(self) -> dict[str, bytes]:
        """The seen-reports table as a worker's would hold it after the batches so far."""
        for account_id, (_, entry) in self._pipeline.flush_seen().items():
            self._seen[account_id] = entry.to_bytes()
        return self._seen

    def run(
        self, messages: Iterable[InputMessage], batch_size: int = 1000
    ) -> Iterator[PipelineOutcome]:
        iterator = iter(messages)
        pending: list[InputMessage] = []
        with replay_collection() as settle:
            while True:
                batch = pending + list(islice(iterator, batch_size))
                if not batch:
                    return
                outcome = self.process(batch)
                pending = [self._loop_back(m) for m in outcome.movements]
                settle()
                yield outcome

    def process(self, batch: list[InputMessage]) -> PipelineOutcome:
        """One batch through the pipeline, its table writes applied (as the agent applies
        them) before the next."""
        outcome = self._pipeline.process(batch, self.model, datetime.now(UTC), self.watchlist)
        for account_id, (_, blob) in outcome.account_writes.items():
            self._accounts[account_id] = blob
        for identity, (_, entry) in outcome.ingest.seen_writes.items():
            self._seen[identity] = entry.to_bytes()
        for account_id, (_, blob) in outcome.trail_writes.items():
            self.trails[account_id] = blob
        return outcome

    def movement_message(self, key: bytes, value: bytes) -> InputMessage:
        """An encoded movement as read from the trails topic: this runner's next offset."""
        self._movements += 1
        source = SourcePosition(self.config.trail_topic, 0, self._movements)
        return InputMessage(key, value, source)

    def _loop_back(self, movement: Movement) -> InputMessage:
        return self.movement_message(movement.to_account.encode(), movement.to_json())

    def final_states(self) -> dict[str, AccountState]:
        lateness = self.config.lateness_ms
        return {k: AccountState.from_bytes(v, lateness) for k, v in self.accounts.items()}
