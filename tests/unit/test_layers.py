"""The pure core and the offline tools import and run with Kafka, Faust and their clients
absent: what a data scientist's notebook or a backtest on a laptop needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = ("schemas", "ingest", "models", "casework", "offline")
ABSENT = ("kafka", "aiokafka", "faust", "mode", "aiohttp")

PROBE = f"""
import importlib, importlib.abc, pkgutil, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (absent in this test)")
        return None

sys.meta_path.insert(0, Absent())
imported = []
for package in {CORE!r}:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
print(len(imported))
"""


def test_the_core_imports_without_kafka_or_faust() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 30  # every module of the core was imported, not none


def test_the_probe_notices_a_module_that_needs_kafka() -> None:
    probe = PROBE.replace(repr(CORE), repr(("streams",)))
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "absent in this test" in done.stderr
