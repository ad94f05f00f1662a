"""The cost of TLS + SASL/SCRAM for one fundwatch worker: plaintext against secure, same data,
same run.

Run by hand (not a test): ``python bench/security.py [--reports 100000]``. It starts two local
brokers (deploy/kafka/kafka.sh): a plaintext one and a secure one (SASL_SSL, SCRAM-SHA-512,
the StandardAuthorizer with the policy's ACLs applied), then on each, in turn:
  1. preloads the same simulated reports (the bank-side kafka-python producer),
  2. reads them with a raw aiokafka consumer (the ceiling of client, broker and link),
  3. runs one `fundwatch worker` over them (as the service user on the secure broker),
and prints reports/s for each and the secure rate as a share of the plaintext one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import FUNDWATCH, raw_read, running_worker, simulated_lines, worker_rate  # noqa: E402
from feeds.producer import send_lines  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402


@dataclass
class Rates:
    produce: float = 0.0
    raw_read: float = 0.0
    worker: float = 0.0


def start_broker(port: int, security: str) -> None:
    env = {
        **os.environ,
        "FUNDWATCH_KAFKA_PORT": str(port),
        "FUNDWATCH_KAFKA_SECURITY": security,
        "PYTHON": sys.executable,
    }
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka.sh"), "start"], env=env, check=True)


def client_properties(port: int, user: str) -> str:
    home = Path(os.environ.get("FUNDWATCH_KAFKA_HOME", REPO / ".kafka")).resolve()
    return str(home / f"run-{port}" / "secrets" / "clients" / f"{user}.properties")


def environment(port: int, client_properties: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "FUNDWATCH_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "FUNDWATCH_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}",
        "PYTHONPATH": str(REPO),
    }
    env.pop("FUNDWATCH_BANKS", None)  # both runs read the one shared reports topic
    env.pop("FUNDWATCH_CLIENT_PROPERTIES", None)
    if client_properties:
        env["FUNDWATCH_CLIENT_PROPERTIES"] = client_properties
    return env


def measure(env: dict[str, str], lines: list[bytes], web_port: int) -> Rates:
    settings = Settings.from_env(env)
    ensure_topics(settings)
    summary = send_lines(lines, settings)
    rates = Rates(produce=summary.rate)
    rates.raw_read = asyncio.run(raw_read(settings, summary.sent))
    with running_worker(env, web_port):
        rates.worker = worker_rate(web_port, summary.sent)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--plaintext-port", type=int, default=39392)
    parser.add_argument("--secure-port", type=int, default=39492)
    parser.add_argument("--web-port", type=int, default=6098)
    args = parser.parse_args()

    start_broker(args.plaintext_port, "plaintext")
    start_broker(args.secure_port, "sasl_ssl")
    lines = simulated_lines(seed=1, count=args.reports)
    print(f"{len(lines):,} simulated reports")

    plaintext_env = environment(args.plaintext_port)
    service = client_properties(args.secure_port, "fundwatch-worker")
    secure_env = environment(args.secure_port, service)
    admin = client_properties(args.secure_port, "admin")
    subprocess.run(
        [*FUNDWATCH, "acl", "apply", "--command-config", admin],
        env=secure_env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )

    plaintext = measure(plaintext_env, lines, args.web_port)
    secure = measure(secure_env, lines, args.web_port)
    print(f"{'reports/s':<32}{'plaintext':>12}{'SASL_SSL':>12}{'secure/plain':>14}")
    for label, name in (
        ("producer (kafka-python)", "produce"),
        ("raw read (aiokafka)", "raw_read"),
        ("fundwatch worker", "worker"),
    ):
        plain, tls = getattr(plaintext, name), getattr(secure, name)
        print(f"{label:<32}{plain:>12,.0f}{tls:>12,.0f}{tls / plain:>14.3f}")


if __name__ == "__main__":
    main()
