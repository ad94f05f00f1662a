"""`fundwatch worker` on a machine where nothing has run yet, started from an arbitrary folder:
it makes its data directory (parents included) in the documented place and starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import FUNDWATCH, Deployment, Worker, free_port, wait_for

pytestmark = pytest.mark.integration


def test_a_first_worker_starts_from_any_folder_and_makes_its_data_dir(
    deployment: Deployment, tmp_path: Path
) -> None:
    state_home = tmp_path / "fresh-home" / ".local" / "state"  # none of it exists yet
    folder = tmp_path / "some" / "folder"
    folder.mkdir(parents=True)
    env = {k: v for k, v in deployment.env.items() if k != "FUNDWATCH_DATA_DIR"}
    env["XDG_STATE_HOME"] = str(state_home)
    port = free_port()
    log_path = tmp_path / "fresh-worker.log"
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
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, port, log_path)
    deployment.workers.append(worker)  # stopped by the fixture

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()}")
        return "[^Worker]: Ready" in worker.log() and bool(worker.metrics())

    wait_for(ready, 120, "the worker to be ready")
    data_dir = state_home / "fundwatch" / "worker-data" / deployment.settings.topic_prefix
    assert data_dir.is_dir()
    assert list(folder.iterdir()) == [], "nothing is written to the folder it was started from"
