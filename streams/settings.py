"""Worker and tool settings, read once from the environment (FUNDWATCH_*)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ingest.pipeline import DAY_MS, TxTimeRules
from schemas.errors import FundwatchError
from schemas.glossary import BEIJING
from streams.topics import TopicManager

# A bank id usable in a topic name (<prefix>.reports.<bank_id>); "dlq" names the dead letters.
BANK_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SettingsError(FundwatchError, ValueError, http_status=500):
    """A FUNDWATCH_* variable with a value fundwatch cannot use; names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


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
    # How long the producer holds records to send them together (Kafka's linger.ms). Each
    # chunk of reports waits for this twice, for its leads and then its state to be
    # acknowledged (streams.agents._finish, while the next chunk is computed); 5 ms is the
    # Kafka producer's own default since 4.0.
    linger_ms: int = 5
    # A report this far behind its account's newest one still updates the windows.
    lateness_seconds: float = 7200.0
    # A report's tx_time may be at most this far ahead of its message's broker timestamp
    # (clock skew, a wrong time zone); later ones are dead-lettered (time_out_of_range).
    future_tolerance_seconds: float = DAY_MS / 1000
    # ...and not before this moment (ISO 8601; a date alone is Beijing midnight). The default,
    # 2000-01-01, is older than China's large-value and suspicious transaction reporting (2003),
    # and younger than the placeholders banks' systems write for a missing date (1970, 1900).
    earliest_tx_time: str = "2000-01-01T00:00:00+08:00"  # ingest.pipeline.EARLIEST_TX_MS
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
    # Where Faust keeps its local files (table stores, worker state): resolve_data_dir. Empty:
    # $XDG_STATE_HOME/fundwatch/worker-data/<topic_prefix> (~/.local/state without
    # XDG_STATE_HOME), the same folder whichever folder the worker starts in; a relative
    # FUNDWATCH_DATA_DIR is taken from the folder the command runs in.
    data_dir: str = ""
    # A Kafka client.properties file (standard client property names: security.protocol,
    # sasl.jaas.config, ssl.truststore.location ...), read by streams.kafka_clients for every
    # client fundwatch builds; empty: plaintext without login (the development broker).
    client_properties: str = ""
    # Banks that each produce to their own topic, <prefix>.reports.<bank_id>; the worker reads
    # those topics. Empty: the one shared <prefix>.reports topic (development).
    bank_ids: tuple[str, ...] = ()

    @property
    def tx_time_rules(self) -> TxTimeRules:
        """The ingest stage's rules for tx_time (ingest.pipeline.TxTimeRules)."""
        return TxTimeRules(
            round(self.future_tolerance_seconds * 1000), parse_earliest(self.earliest_tx_time)
        )

    @property
    def broker_url(self) -> str:
        return ";".join(f"kafka://{s.strip()}" for s in self.bootstrap_servers.split(","))

    @property
    def worker_data_dir(self) -> Path:
        """The data directory as an absolute path (Faust's datadir)."""
        return resolve_data_dir(self.data_dir, self.topic_prefix, os.environ, Path.cwd())

    def make_data_dir(self) -> Path:
        """Create the data directory and its parents (Faust creates only the last folder)."""
        path = self.worker_data_dir
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingsError(
                "FUNDWATCH_DATA_DIR", f"cannot create the worker's data directory {path}: {error}"
            ) from error
        return path

    @property
    def topics(self) -> TopicManager:
        """The deployment's topic layout (names, partitions, configs): streams.topics."""
        return TopicManager(self)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        defaults = cls()

        def get(name: str, default: object) -> str:
            return env.get(f"FUNDWATCH_{name.upper()}", str(default))

        client_properties = get("client_properties", defaults.client_properties)
        earliest_tx_time = get("earliest_tx_time", defaults.earliest_tx_time)
        parse_earliest(earliest_tx_time)  # refused here, with the variable's name
        bootstrap_servers = env.get("FUNDWATCH_BOOTSTRAP_SERVERS")
        if bootstrap_servers is None:
            bootstrap_servers = (
                properties_bootstrap(client_properties) or defaults.bootstrap_servers
            )
        return cls(
            bootstrap_servers=bootstrap_servers,
            topic_prefix=get("topic_prefix", defaults.topic_prefix),
            partitions=int(get("partitions", defaults.partitions)),
            replication_factor=int(get("replication_factor", defaults.replication_factor)),
            batch_size=int(get("batch_size", defaults.batch_size)),
            batch_wait_seconds=float(get("batch_wait_seconds", defaults.batch_wait_seconds)),
            linger_ms=int(get("linger_ms", defaults.linger_ms)),
            lateness_seconds=float(get("lateness_seconds", defaults.lateness_seconds)),
            future_tolerance_seconds=parse_tolerance(
                get("future_tolerance_seconds", defaults.future_tolerance_seconds)
            ),
            earliest_tx_time=earliest_tx_time,
            dedup_horizon_days=int(get("dedup_horizon_days", defaults.dedup_horizon_days)),
            dedup_sweep_seconds=float(get("dedup_sweep_seconds", defaults.dedup_sweep_seconds)),
            session_timeout_seconds=float(
                get("session_timeout_seconds", defaults.session_timeout_seconds)
            ),
            standby_replicas=int(get("standby_replicas", defaults.standby_replicas)),
            data_dir=str(
                resolve_data_dir(
                    get("data_dir", defaults.data_dir),
                    get("topic_prefix", defaults.topic_prefix),
                    env,
                    Path.cwd(),
                )
            ),
            client_properties=client_properties,
            bank_ids=parse_bank_ids(get("banks", "")),
        )

    def with_client_properties(self, path: str, env: dict[str, str] | None = None) -> Settings:
        """These settings with another client.properties (``--command-config FILE``); its
        bootstrap.servers is used unless FUNDWATCH_BOOTSTRAP_SERVERS is set."""
        env = dict(os.environ if env is None else env)
        bootstrap_servers = self.bootstrap_servers
        if "FUNDWATCH_BOOTSTRAP_SERVERS" not in env:
            bootstrap_servers = properties_bootstrap(path) or bootstrap_servers
        return replace(self, client_properties=path, bootstrap_servers=bootstrap_servers)


def resolve_data_dir(data_dir: str, topic_prefix: str, env: Mapping[str, str], cwd: Path) -> Path:
    """FUNDWATCH_DATA_DIR as an absolute path. Unset or empty: the XDG state directory
    ($XDG_STATE_HOME, or ~/.local/state when it is unset or not absolute, as the XDG spec says)
    /fundwatch/worker-data/<topic_prefix>, so a worker finds its files again from any folder and
    two deployments on one machine do not share them. Relative: from ``cwd``. ``~`` expands."""
    if data_dir:
        path = Path(data_dir).expanduser()
        return path if path.is_absolute() else cwd / path
    state_home = Path(env.get("XDG_STATE_HOME", ""))
    if not state_home.is_absolute():
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
        state_home = home / ".local" / "state"
    return state_home / "fundwatch" / "worker-data" / topic_prefix


def parse_bank_ids(text: str) -> tuple[str, ...]:
    """FUNDWATCH_BANKS: comma-separated bank ids, each usable in a topic name."""
    bank_ids = tuple(b.strip() for b in text.split(",") if b.strip())
    for bank_id in bank_ids:
        if not BANK_ID.fullmatch(bank_id) or bank_id == "dlq":
            raise SettingsError(
                "FUNDWATCH_BANKS",
                f"{bank_id!r} cannot be part of a topic name: letters, digits, '-' and '_', "
                "up to 32, and not 'dlq'",
            )
    if len(set(bank_ids)) != len(bank_ids):
        raise SettingsError("FUNDWATCH_BANKS", f"a bank is listed twice: {text}")
    return bank_ids


def parse_tolerance(text: str) -> float:
    """FUNDWATCH_FUTURE_TOLERANCE_SECONDS: a number of seconds, zero or more."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SettingsError(
            "FUNDWATCH_FUTURE_TOLERANCE_SECONDS", f"{text!r} is not a number of seconds >= 0"
        )
    return seconds


def parse_earliest(text: str) -> int:
    """FUNDWATCH_EARLIEST_TX_TIME as epoch milliseconds: ISO 8601, a date alone (or a time
    without an offset) read as Beijing time, like the reports' own dates."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(
            "FUNDWATCH_EARLIEST_TX_TIME",
            f"{text!r} is not an ISO 8601 date or time (e.g. 2000-01-01 or 2000-01-01T00:00+08:00)",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


def properties_bootstrap(path: str) -> str | None:
    """bootstrap.servers of a client.properties file, if it has one."""
    if not path:
        return None
    # Imported here: streams.kafka_clients builds on these settings.
    from streams.kafka_clients import read_properties

    return read_properties(path).get("bootstrap.servers", "").strip() or None
