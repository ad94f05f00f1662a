"""The pipeline over a file or a topic without a worker: for training and backtests.

Tables are plain dicts holding the same encoded values a worker's tables hold, written back
after every batch exactly as the agent writes them. The movements of money trails a batch
sends (models.trails) are read back before the next batch of reports, as a worker reads them
from the trails topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from ingest.partitioning import account_key
from ingest.pipeline import InputMessage
from models.account_state import AccountState
from models.active_model import ActiveModel
from models.pipeline import Pipeline, PipelineConfig, PipelineOutcome
from models.trails import Movement
from models.watchlist import Watchlist
from schemas.envelopes import SourcePosition


def file_messages(path: Path) -> Iterator[InputMessage]:
    """Each non-empty line of a JSONL file as a message keyed by its account_id, as the
    bank-side producer sends it."""
    with path.open("rb") as f:
        lines = (line.rstrip(b"\r\n") for line in f)
        yield from line_messages((line for line in lines if line), path.name)


def line_messages(lines: Iterable[bytes], source: str) -> Iterator[InputMessage]:
    """Report lines as messages keyed by account_id; the position stands in for the offset."""
    for number, line in enumerate(lines):
        # "file:" cannot begin a topic name, so a file is never taken for a bank's topic.
        yield InputMessage(account_key(line), line, SourcePosition(f"file:{source}", 0, number))


class OfflineRunner:
    def __init__(
        self,
        config: PipelineConfig,
        model: ActiveModel | None = None,
        watchlist: Watchlist | None = None,
    ) -> None:
        self.watchlist = watchlist
        self.accounts: dict[str, bytes] = {}
        self.seen: dict[str, bytes] = {}
        self.trails: dict[str, bytes] = {}
        self.config = config
        self.model = model
        self._pipeline = Pipeline(self.accounts, self.seen, config, self.trails)
        self._movements = 0

    def run(
        self, messages: Iterable[InputMessage], batch_size: int = 1000
    ) -> Iterator[PipelineOutcome]:
        iterator = iter(messages)
        pending: list[InputMessage] = []
        while True:
            batch = pending + list(islice(iterator, batch_size))
            if not batch:
                return
            outcome = self._pipeline.process(batch, self.model, datetime.now(UTC), self.watchlist)
            for account_id, (_, blob) in outcome.account_writes.items():
                self.accounts[account_id] = blob
            for identity, (_, entry) in outcome.ingest.seen_writes.items():
                self.seen[identity] = entry.to_bytes()
            for account_id, (_, blob) in outcome.trail_writes.items():
                self.trails[account_id] = blob
            pending = [self._loop_back(m) for m in outcome.movements]
            yield outcome

    def _loop_back(self, movement: Movement) -> InputMessage:
        self._movements += 1
        source = SourcePosition(self.config.trail_topic, 0, self._movements)
        return InputMessage(movement.to_account.encode(), movement.to_json(), source)

    def final_states(self) -> dict[str, AccountState]:
        lateness = self.config.lateness_ms
        return {k: AccountState.from_bytes(v, lateness) for k, v in self.accounts.items()}
