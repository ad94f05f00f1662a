"""Worker and tool settings, read once from the environment (FUNDWATCH_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    # Kafka bootstrap servers, comma-separated host:port (Kafka's bootstrap.servers).
    bootstrap_servers: str = "127.0.0.1:9092"
    # Every topic name starts with this; also the Faust app id (consumer group, changelogs).
    topic_prefix: str = "fundwatch"
    partitions: int = 4
    replication_factor: int = 1
    # Micro-batches of the ingest agent: at most this many reports, waiting at most this long.
    batch_size: int = 500
    batch_wait_seconds: float = 0.05
    # A report this far behind its account's newest one still updates the windows.
    lateness_seconds: float = 7200.0
    # A re-send of a report is recognised while its tx_time is this recent.
    dedup_horizon_days: int = 35
    dedup_sweep_seconds: float = 600.0
    # How often the lag and table-size gauges are refreshed.
    gauge_interval_seconds: float = 5.0
    # A consumer that stops heartbeating for this long is taken out of the group.
    session_timeout_seconds: float = 10.0
    # Workers that keep a warm copy of each table partition they do not own (Faust's
    # table_standby_replicas). Off by default: the failure tests run without standbys, and a
    # partition that moves is rebuilt from its changelog instead (slower takeover, known path).
    standby_replicas: int = 0
    # Where Faust keeps its local files (table stores, worker state).
    data_dir: str = ".fundwatch/worker-data"

    @property
    def broker_url(self) -> str:
        return ";".join(f"kafka://{s.strip()}" for s in self.bootstrap_servers.split(","))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def department_topic(self, code: str) -> str:
        """One department's leads (schemas.sectors.DEPARTMENTS): fundwatch.leads.dept.cbrc."""
        return self.topic(f"leads.dept.{code}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        defaults = cls()

        def get(name: str, default: object) -> str:
            return env.get(f"FUNDWATCH_{name.upper()}", str(default))

        return cls(
            bootstrap_servers=get("bootstrap_servers", defaults.bootstrap_servers),
            topic_prefix=get("topic_prefix", defaults.topic_prefix),
            partitions=int(get("partitions", defaults.partitions)),
            replication_factor=int(get("replication_factor", defaults.replication_factor)),
            batch_size=int(get("batch_size", defaults.batch_size)),
            batch_wait_seconds=float(get("batch_wait_seconds", defaults.batch_wait_seconds)),
            lateness_seconds=float(get("lateness_seconds", defaults.lateness_seconds)),
            dedup_horizon_days=int(get("dedup_horizon_days", defaults.dedup_horizon_days)),
            dedup_sweep_seconds=float(get("dedup_sweep_seconds", defaults.dedup_sweep_seconds)),
            session_timeout_seconds=float(
                get("session_timeout_seconds", defaults.session_timeout_seconds)
            ),
            standby_replicas=int(get("standby_replicas", defaults.standby_replicas)),
            data_dir=get("data_dir", defaults.data_dir),
        )
