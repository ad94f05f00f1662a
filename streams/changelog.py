"""The order in which a worker's table writes reach their changelogs (streams.agents)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


class ChangelogChain:
    """The tables' changelog records, sent in the order their local values were set.

    A chunk's state is set locally at once (the next chunk reads it) but sent only after the
    chunk's leads are acknowledged, while the next chunk is computed; the sweep rewrites
    values meanwhile. Each step waits for the step before it, so a key's last record in the
    changelog is its last local value, and a step that fails stops every later one."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def then(self, step: Awaitable[None]) -> None:
        self._last = asyncio.ensure_future(self._after(self._last, step))

    @staticmethod
    async def _after(previous: asyncio.Future[None] | None, step: Awaitable[None]) -> None:
        try:
            if previous is not None:
                await previous
        except BaseException:
            if asyncio.iscoroutine(step):
                step.close()  # never run: its records are not sent
            raise
        await step

    async def drain(self) -> None:
        """Wait until every step so far is done; raise the first failure (and start anew).
        Only the ingest agent drains, so a failure reaches it and it writes no watermark."""
        last = self._last
        if last is not None:
            try:
                await last
            finally:
                if self._last is last:
                    self._last = None
