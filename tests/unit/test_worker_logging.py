"""The worker's logging once it has started (streams.worker): debug records are built only
when the worker was asked for them."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import faust
import pytest

from streams.app import app
from streams.worker import Worker


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """A root logger as mode leaves it after configuring logging: one handler, its level."""
    logger = logging.Logger("root-under-test")
    logger.addHandler(logging.StreamHandler(io.StringIO()))
    yield logger


def start_up(worker: faust.Worker, root: logging.Logger, level: int) -> None:
    """What Faust's worker does to the root logger from its configuration to "ready"."""
    root.setLevel(level)
    worker.on_setup_root_logger(root, level)
    asyncio.run(worker.on_startup_finished())


def test_faust_leaves_debug_records_on_after_start_up(root: logging.Logger) -> None:
    # The behaviour the fundwatch worker corrects: if a Faust release stops lowering the root
    # logger, this fails, and streams.worker is no longer needed.
    start_up(faust.Worker(faust.App("faust-own-worker"), stdout=io.StringIO()), root, logging.WARN)
    assert root.isEnabledFor(logging.DEBUG)


@pytest.mark.parametrize("level", [logging.WARN, logging.ERROR, logging.INFO])
def test_a_started_worker_builds_no_record_below_its_log_level(
    root: logging.Logger, level: int
) -> None:
    start_up(Worker(faust.App("fundwatch-worker"), stdout=io.StringIO()), root, level)
    assert root.level == level
    assert not root.isEnabledFor(logging.DEBUG)


def test_a_worker_started_with_debug_logging_keeps_it(root: logging.Logger) -> None:
    start_up(Worker(faust.App("fundwatch-debug"), stdout=io.StringIO()), root, logging.DEBUG)
    assert root.isEnabledFor(logging.DEBUG)


def test_the_fundwatch_app_runs_this_worker() -> None:
    assert app.conf.Worker is Worker
