"""The worker's changelog writes (streams.changelog): in the order their values were set,
each after the one before, and nothing after a failure."""

from __future__ import annotations

import asyncio

import pytest

from streams.changelog import ChangelogChain


async def write(sent: list[str], record: str, acknowledged: asyncio.Event | None = None) -> None:
    if acknowledged is not None:
        await acknowledged.wait()  # a chunk's leads not yet acknowledged by Kafka
    sent.append(record)


def test_a_later_chunks_records_wait_for_the_earlier_ones() -> None:
    async def run() -> list[str]:
        chain, sent = ChangelogChain(), []
        first_leads = asyncio.Event()
        chain.then(write(sent, "A1 from chunk 1", first_leads))
        chain.then(write(sent, "A1 from chunk 2"))  # ready at once, yet sent second
        chain.then(write(sent, "A1 swept"))
        await asyncio.sleep(0.01)
        assert sent == []
        first_leads.set()
        await chain.drain()
        return sent

    assert asyncio.run(run()) == ["A1 from chunk 1", "A1 from chunk 2", "A1 swept"]


def test_nothing_is_sent_after_a_failed_write_and_the_drain_raises_it() -> None:
    async def fail() -> None:
        raise ConnectionError("the broker went away")

    async def run() -> list[str]:
        chain, sent = ChangelogChain(), []
        chain.then(write(sent, "chunk 1"))
        chain.then(fail())
        chain.then(write(sent, "chunk 3"))
        with pytest.raises(ConnectionError):
            await chain.drain()
        # A restarted agent starts a new chain.
        chain.then(write(sent, "after the restart"))
        await chain.drain()
        await chain.drain()  # nothing pending
        return sent

    assert asyncio.run(run()) == ["chunk 1", "after the restart"]
