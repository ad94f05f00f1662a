"""The file replay on several processes, split by account as Kafka splits a topic.

Worker ``i`` of ``N`` owns the accounts whose key ``partition_for(key, N)`` is ``i`` and keeps
their tables, exactly as the worker owning partition ``i`` of an ``N``-partition topic does; a
line whose key cannot be read goes to worker 0, so it is dead-lettered once. The parent reads
the file and sends each worker its lines, as bytes (``FileLines``: routed by
``routing_key``, the same key for every valid report, without decoding the line; the worker
decodes it).

Money trails cross partitions, as in the stream: the movements worker ``i`` sends are for the
owner of their ``to_account``. The workers run in lockstep rounds: in each, every worker takes
its next chunk of lines and the movements sent to it in the round before, as one batch (the
movements first, as ``OfflineRunner.run`` puts them); the parent routes the movements that
come back. The rounds go on until the file is read and no movement is on its way.

Per-account results (scores, scored leads, features) do not depend on the split; a linked
lead's revisions depend on when its movements arrive, its account, hop and sources do not
(tests/outlines.py).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import struct
import time
import traceback
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Generic, Protocol, TypeVar

from ingest.partitioning import account_key, partition_for, routing_key
from ingest.pipeline import InputMessage
from models.pipeline import PipelineOutcome, replay_collection
from offline.replay import FileLines, OfflineRunner
from schemas.envelopes import SourcePosition
from schemas.errors import FundwatchError

log = logging.getLogger(__name__)

# Lines per worker per round, on average. The workers wait for the slowest each round; longer
# rounds even out their shares (4,000 against 1,000: a tenth less time on 2 cores).
ROUND_LINES = 4000

R = TypeVar("R")

# The first byte of what a worker sends back.
_ROUND, _DONE, _FAILED = b"R", b"D", b"F"
_COUNT = struct.Struct("<q")


class ParallelReplayError(FundwatchError, RuntimeError):
    """A replay worker failed or ended early; the message carries its error."""


class ReplayJob(Protocol[R]):
    """What each worker does: its runner, what it keeps of each batch, what it hands back.
    Built in the parent and given to the workers when they start, so it holds settings only
    until a worker uses it. The result comes back as bytes the job itself encodes and
    decodes: plain data, nothing that runs code when read."""

    def runner(self) -> OfflineRunner: ...

    def observe(self, outcome: PipelineOutcome) -> list[bytes]:
        """Keep what the job needs of one batch; return the lines the parent writes."""
        ...

    def result(self) -> R: ...

    def encode(self, result: R) -> bytes: ...

    def decode(self, blob: bytes) -> R: ...


@dataclass
class RoundOutput:
    """One round over every worker: the lines to write (worker by worker), reports read."""

    lines: list[bytes] = field(default_factory=list)
    reports: int = 0
    rejected: int = 0
    busiest_seconds: float = 0.0  # the CPU time of the worker that took longest


def pack(*groups: Sequence[bytes]) -> bytes:
    """Lists of byte strings as one byte string: counts and lengths, then the bytes."""
    lengths = [len(group) for group in groups] + [len(part) for group in groups for part in group]
    header = array("q", lengths).tobytes()
    body = b"".join(part for group in groups for part in group)
    return _COUNT.pack(len(groups)) + header + body


def unpack(blob: bytes | memoryview) -> list[list[bytes]]:
    """The lists ``pack`` was given."""
    view = memoryview(blob)
    (count,) = _COUNT.unpack_from(view)
    sizes = array("q")
    sizes.frombytes(view[_COUNT.size : _COUNT.size + 8 * count])
    lengths = array("q")
    header_end = _COUNT.size + 8 * (count + sum(sizes))
    lengths.frombytes(view[_COUNT.size + 8 * count : header_end])
    groups: list[list[bytes]] = []
    position, index = header_end, 0
    for size in sizes:
        group = []
        for length in lengths[index : index + size]:
            group.append(bytes(view[position : position + length]))
            position += length
        groups.append(group)
        index += size
    return groups


@dataclass
class _Chunk:
    """What one worker gets in one round."""

    offsets: array[int] = field(default_factory=lambda: array("q"))
    lines: list[bytes] = field(default_factory=list)
    movement_keys: list[bytes] = field(default_factory=list)
    movements: list[bytes] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines or self.movements)

    def frame(self, topic: str) -> bytes:
        return pack(
            [topic.encode(), self.offsets.tobytes()], self.lines, self.movement_keys, self.movements
        )


def _batch(runner: OfflineRunner, frame: bytes) -> list[InputMessage]:
    """A round's frame as the runner's batch: the movements, then the reports."""
    (topic, offsets_bytes), lines, movement_keys, movements = unpack(frame)
    offsets = array("q")
    offsets.frombytes(offsets_bytes)
    batch = [runner.movement_message(k, v) for k, v in zip(movement_keys, movements, strict=True)]
    source = topic.decode()
    for offset, line in zip(offsets, lines, strict=True):
        batch.append(InputMessage(account_key(line), line, SourcePosition(source, 0, offset)))
    return batch


def _serve(connection: Connection, job: ReplayJob[object]) -> None:
    """A worker: one batch per frame until the empty frame, then the job's result."""
    try:
        runner = job.runner()
        with replay_collection() as settle:  # a replay of its own, as OfflineRunner.run's
            while frame := connection.recv_bytes():
                started = time.process_time()
                outcome = runner.process(_batch(runner, frame))
                lines = job.observe(outcome)
                settle()
                cpu_us = round((time.process_time() - started) * 1e6)
                ingest = outcome.ingest
                counts = array("q", [len(ingest.verdicts), len(ingest.dead_letters), cpu_us])
                keys = [m.to_account.encode() for m in outcome.movements]
                movements = [m.to_json() for m in outcome.movements]
                connection.send_bytes(_ROUND + pack([counts.tobytes()], lines, keys, movements))
        connection.send_bytes(_DONE + job.encode(job.result()))
    except EOFError:
        return  # the parent closed the pipe: it stopped the replay
    except BaseException:
        with contextlib.suppress(OSError):
            connection.send_bytes(_FAILED + traceback.format_exc().encode())
    finally:
        connection.close()


def _context(method: str | None) -> ForkContext | SpawnContext | ForkServerContext:
    """fork where there is one (Linux): the workers start at once, nothing re-imported."""
    method = method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    if method == "fork":
        return multiprocessing.get_context("fork")
    if method == "forkserver":
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class ParallelReplay(Generic[R]):
    """``job`` on ``workers`` processes over the messages of one file (``file_messages``:
    partition 0, the line numbers as offsets). ``run`` yields each round's output; once it
    is exhausted, ``results`` holds each worker's ``job.result()``, worker by worker."""

    def __init__(
        self,
        job: ReplayJob[R],
        workers: int,
        batch_size: int | None = None,
        start_method: str | None = None,
    ) -> None:
        if workers < 2:
            raise ValueError("a parallel replay needs at least 2 workers")
        self.job = job
        self.workers = workers
        self.batch_size = batch_size or ROUND_LINES
        self._context = _context(start_method)
        self._owners: dict[bytes, int] = {}
        self._topic: str | None = None
        self._processes: list[BaseProcess] = []
        self._connections: list[Connection] = []
        self.results: list[R] = []
        # The rounds' busiest workers' CPU time, summed: the run's length on idle cores.
        self.critical_seconds = 0.0

    def run(self, messages: Iterable[InputMessage] | FileLines) -> Iterator[RoundOutput]:
        """A file's lines (``FileLines``) are split as they are read, each by its account
        (``routing_key``) without decoding it here: the workers do, and this process's share
        of the work, which the workers wait for, stays small."""
        if isinstance(messages, FileLines):
            self._topic = messages.source
            items: Iterator[tuple[bytes | None, int, bytes]] = (
                (routing_key(line), offset, line) for offset, line in enumerate(messages.lines)
            )
        else:
            items = (self._position(message) for message in messages)
        try:
            self._start()
            yield from self._rounds(items)
            self.results = self._finish()
            log.info(
                "replay on %d workers: the busiest worker of each round took %.1f s of CPU in all",
                self.workers,
                self.critical_seconds,
            )
        finally:
            self._stop()

    def _rounds(self, messages: Iterator[tuple[bytes | None, int, bytes]]) -> Iterator[RoundOutput]:
        chunks = self._next_chunks(messages)
        while any(chunks):
            busy = [w for w, chunk in enumerate(chunks) if chunk]
            for w in busy:
                self._connections[w].send_bytes(chunks[w].frame(self._topic or ""))
            chunks = self._next_chunks(messages)  # read on while the workers work
            output = RoundOutput()
            for w in busy:
                self._collect(w, output, chunks)
            self.critical_seconds += output.busiest_seconds
            yield output

    def _next_chunks(self, messages: Iterator[tuple[bytes | None, int, bytes]]) -> list[_Chunk]:
        """The next round's lines, (routing key, offset, line) each, split by owner."""
        chunks = [_Chunk() for _ in range(self.workers)]
        for key, offset, line in islice(messages, self.batch_size * self.workers):
            chunk = chunks[self._owner(key)]
            chunk.offsets.append(offset)
            chunk.lines.append(line)
        return chunks

    def _position(self, message: InputMessage) -> tuple[bytes | None, int, bytes]:
        """A message of one file as (key, offset, line)."""
        source = message.source
        if self._topic is None:
            self._topic = source.topic
        if source.topic != self._topic or source.partition != 0 or source.timestamp_ms:
            raise ParallelReplayError(
                f"a parallel replay reads one file; {source.topic}:{source.partition} is not it"
            )
        return message.key, source.offset, message.value

    def _owner(self, key: bytes | None) -> int:
        if key is None:
            return 0  # unreadable: one worker dead-letters it, once
        owner = self._owners.get(key)
        if owner is None:
            owner = self._owners[key] = partition_for(key, self.workers)
        return owner

    def _collect(self, worker: int, output: RoundOutput, chunks: list[_Chunk]) -> None:
        """Worker ``worker``'s round into ``output``; its movements into the next chunks."""
        (counts_bytes,), lines, keys, movements = unpack(self._receive(worker, _ROUND))
        counts = array("q")
        counts.frombytes(counts_bytes)
        output.reports += counts[0]
        output.rejected += counts[1]
        output.busiest_seconds = max(output.busiest_seconds, counts[2] / 1e6)
        output.lines.extend(lines)
        for key, movement in zip(keys, movements, strict=True):
            chunk = chunks[self._owner(key)]
            chunk.movement_keys.append(key)
            chunk.movements.append(movement)

    def _receive(self, worker: int, expected: bytes) -> memoryview:
        try:
            frame = memoryview(self._connections[worker].recv_bytes())
        except EOFError:
            code = self._processes[worker].exitcode
            raise ParallelReplayError(f"replay worker {worker} ended (exit code {code})") from None
        tag = bytes(frame[:1])
        if tag == _FAILED:
            raise ParallelReplayError(
                f"replay worker {worker} failed:\n{bytes(frame[1:]).decode(errors='replace')}"
            )
        if tag != expected:
            raise ParallelReplayError(f"replay worker {worker} sent {tag!r}, not {expected!r}")
        return frame[1:]

    def _start(self) -> None:
        for worker in range(self.workers):
            ours, theirs = self._context.Pipe()
            process = self._context.Process(
                target=_serve,
                args=(theirs, self.job),
                name=f"fundwatch-replay-{worker}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self._processes.append(process)
            self._connections.append(ours)

    def _finish(self) -> list[R]:
        for connection in self._connections:
            connection.send_bytes(b"")
        return [self.job.decode(bytes(self._receive(w, _DONE))) for w in range(self.workers)]

    def _stop(self) -> None:
        """Close every pipe; a worker still running after that (an error) is ended."""
        for connection in self._connections:
            connection.close()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
        self._processes, self._connections = [], []
