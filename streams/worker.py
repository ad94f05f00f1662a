"""The worker class the fundwatch app runs (Faust's ``Worker`` setting).

Faust's worker lowers the root logger to DEBUG while it starts, so that its start-up spinner
turns with every record logged, and leaves it there. From then on every ``log.debug`` call of
Faust, mode and aiokafka builds a record that no handler prints: aiokafka makes one for each
message it produces, and a worker produces a changelog record for every account in a batch.
In a profile of a batched worker that was about a sixth of the stream's time. This worker
puts the root logger back at the level it was configured with once the spinner is done.
"""

from __future__ import annotations

import logging

import faust


class Worker(faust.Worker):
    """``faust.Worker`` that restores the root logger's level when start-up ends."""

    _root_logger: logging.Logger | None = None
    _configured_level = logging.NOTSET

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # Called once mode has configured logging, before Faust's spinner handler changes it.
        self._root_logger, self._configured_level = logger, logger.level
        super().on_setup_root_logger(logger, level)

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()  # the spinner is done
        if self._root_logger is not None:
            self._root_logger.setLevel(self._configured_level)
