"""Integration fixtures: the real local Kafka broker and real `fundwatch worker` processes.

The broker is started once per test session by the project's own script (on its own port, so
a developer's broker on 9092 is left alone). Each test gets its own topic prefix, so tests do
not see each other's topics, consumer groups or changelogs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from models.account_state import AccountState
from streams.settings import Settings
from streams.topic_reader import read_all

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
# Below Linux's ephemeral range (32768-60999): while the broker-stop test has the broker
# down, a client reconnecting to a port in that range can be handed the port itself as its
# own source port (a TCP self-connect) and then hold it, so the broker cannot bind it again
# ("Address already in use", seen in CI). The controller listens on the port + 1000.
TEST_KAFKA_PORT = int(os.environ.get("FUNDWATCH_TEST_KAFKA_PORT", "29092"))
FUNDWATCH = [sys.executable, "-c", "from cli.main import main; main()"]


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, interval: float = 0.25
) -> object:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_script_env() -> dict[str, str]:
    return {**os.environ, "FUNDWATCH_KAFKA_PORT": str(TEST_KAFKA_PORT), "PYTHON": sys.executable}


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    env = broker_script_env()
    status = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "status"], env=env, capture_output=True, check=False
    )
    started_here = status.returncode != 0
    subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, check=True)
    yield f"127.0.0.1:{TEST_KAFKA_PORT}"
    if started_here:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, check=False)


def broker_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", TEST_KAFKA_PORT), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def live_broker(kafka_broker: str) -> str:
    """The session's broker, started again if an earlier test (one that stops the broker on
    purpose) left it down: that test fails alone instead of every test after it."""
    if not broker_answers():
        subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=broker_script_env(), check=True)
    return kafka_broker


@dataclass
class Worker:
    """One `fundwatch worker` process and what it exposes."""

    process: subprocess.Popen[bytes]
    web_port: int
    log_path: Path

    def metrics(self, names: Sequence[str] = ()) -> dict[str, float]:
        """Each fundwatch series' value, by series name with labels (``names``: only those
        series, as the worker's ``/metrics?name[]=`` gives them)."""
        query = urllib.parse.urlencode([("name[]", name) for name in names])
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}/metrics?{query}", timeout=5
            ) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        values: dict[str, float] = {}
        for line in text.splitlines():
            match = re.match(r"^(fundwatch_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
            if match:
                values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        return values

    def total(self, name: str) -> float:
        return sum(v for k, v in self.metrics().items() if k == name or k.startswith(name + "{"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Deployment:
    """A fundwatch deployment of one test: its settings and the workers started for it."""

    settings: Settings
    env: dict[str, str]
    workdir: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, ready_timeout: float = 120) -> Worker:
        port = free_port()
        index = len(self.workers)
        log_path = self.workdir / f"worker-{index}.log"
        env = {**self.env, "FUNDWATCH_DATA_DIR": str(self.workdir / f"data-{index}")}
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    *FUNDWATCH,
                    "worker",
                    "--loglevel",
                    "info",
                    "--web-port",
                    str(port),
                    "--web-host",
                    "127.0.0.1",
                ],
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, port, log_path)
        self.workers.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()}")
            return "[^Worker]: Ready" in worker.log() and bool(worker.metrics())

        wait_for(ready, ready_timeout, "the worker to be ready")
        return worker

    def account_states(self, lateness_ms: int = 7_200_000) -> dict[str, AccountState]:
        """Each account's whole state as a new worker would recover it: the changelog of the
        accounts table, last value wins (Faust writes the keys as JSON)."""
        topic = f"{self.settings.topic_prefix}-accounts-changelog"
        latest: dict[str, AccountState] = {}
        for key, value in read_all(self.settings, topic):
            assert key is not None and value is not None
            latest[orjson.loads(key)] = AccountState.from_bytes(value, lateness_ms)
        return latest

    def run_cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FUNDWATCH, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


@pytest.fixture
def deployment(live_broker: str, tmp_path: Path) -> Iterator[Deployment]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "FUNDWATCH_BOOTSTRAP_SERVERS": live_broker,
        "FUNDWATCH_TOPIC_PREFIX": prefix,
        "FUNDWATCH_PARTITIONS": "4",
        "PYTHONPATH": str(REPO_ROOT),
    }
    settings = Settings.from_env(env)
    deployment = Deployment(settings, env, tmp_path)
    yield deployment
    for worker in deployment.workers:
        worker.stop()
