"""The one home of the topic layout: names, partition counts, configs and creation.

In the manner of Quix Streams' ``TopicManager``: every topic the deployment uses is named
here from the settings' prefix, with its partition count and topic configs, and created or
checked here. Faust topic objects (``streams.app``), the producers, the readers and the ACL
policy all take their names from a ``TopicManager``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas.errors import FundwatchError
from schemas.sectors import DEPARTMENTS

if TYPE_CHECKING:
    from streams.settings import Settings

# A model is one message of a few MB on the models topic.
MODEL_MESSAGE_MAX_BYTES = 16 * 1024 * 1024

# The Faust tables (streams.app): Faust names each one's changelog topic after the app id.
TABLE_NAMES = (
    "accounts",
    "seen-reports",
    "progress",
    "trails",
    "scheme-leads",
    "published-schemes",
)


class TopicLayoutError(FundwatchError):
    """An existing topic the worker cannot use as it is (names the topic and what is wrong)."""

    exit_code = 2

    def __init__(self, topic: str, problem: str) -> None:
        self.topic = topic
        super().__init__(f"{topic}: {problem}")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as the deployment needs it."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


class TopicManager:
    """The topics of one deployment (one prefix), named, laid out and created."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def name(self, suffix: str) -> str:
        """``fundwatch.leads`` for ``leads``: every topic name is the prefix and a suffix."""
        return f"{self.settings.topic_prefix}.{suffix}"

    def bank(self, bank_id: str) -> str:
        """One bank's input topic: fundwatch.reports.BSCB."""
        return self.name(f"reports.{bank_id}")

    def bank_dead_letters(self, bank_id: str) -> str:
        """The dead letters of one bank's own reports: fundwatch.reports.BSCB.dlq, which that
        bank may read (a bank id has no '.', so it is no other bank's topic)."""
        return self.name(f"reports.{bank_id}.dlq")

    def department(self, code: str) -> str:
        """One department's leads (schemas.sectors.DEPARTMENTS): fundwatch.leads.dept.cbrc."""
        return self.name(f"leads.dept.{code}")

    # Faust names a few things itself, after its app id (the prefix, streams.app) and with a
    # '-', not the '.' of our own names: the workers' consumer group, each table's changelog
    # and the leader-election topic. The access policy grants exactly these names.
    @property
    def worker_group(self) -> str:
        """The workers' consumer group (Faust's app id): fundwatch, no '.' suffix, so no
        department's group (fundwatch.dept.<code>.*) or bank's group can be it."""
        return self.settings.topic_prefix

    def department_groups(self, code: str) -> str:
        """The start of a department's consumer group names: fundwatch.dept.cbrc."""
        return self.name(f"dept.{code}.")

    def bank_groups(self, bank_id: str) -> str:
        """The start of a bank's consumer group names (to read its dead letters):
        fundwatch.bank.BSCB."""
        return self.name(f"bank.{bank_id}.")

    def changelog(self, table: str) -> str:
        """A Faust table's changelog topic: fundwatch-accounts-changelog."""
        return f"{self.settings.topic_prefix}-{table}-changelog"

    @property
    def faust_internal(self) -> tuple[str, ...]:
        """Every topic Faust creates and names itself: the tables' changelogs and the
        leader assignor's topic (a test checks the app declares exactly these)."""
        return (
            *(self.changelog(table) for table in TABLE_NAMES),
            f"{self.settings.topic_prefix}-__assignor-__leader",
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        """The topics the worker reads reports from: each bank's, or the shared one."""
        if self.settings.bank_ids:
            return tuple(self.bank(b) for b in self.settings.bank_ids)
        return (self.name("reports"),)

    def specs(self) -> dict[str, TopicSpec]:
        """Every topic of the deployment, by name."""
        partitions = self.settings.partitions
        compacted = {"cleanup.policy": "compact"}
        specs = [
            TopicSpec(self.name("reports"), partitions),
            # Each bank's own input topic (FUNDWATCH_BANKS), so a bank can be granted its own.
            *(TopicSpec(topic, partitions) for topic in self.inputs),
            TopicSpec(self.name("reports.dlq"), partitions),
            # Each bank's own dead letters beside the shared ones (the letters of reports read
            # from that bank's topic), so its integrators can read why a report was refused.
            # One partition: a few letters, read in the order they were written.
            *(TopicSpec(self.bank_dead_letters(b), 1) for b in self.settings.bank_ids),
            # Money movements keyed by the account they reach (models.trails): read beside the
            # reports, so they need the tables' partition count too.
            TopicSpec(self.name("trails"), partitions),
            TopicSpec(self.name("leads"), partitions),
            # Every lead revision again, on one partition for the one worker that builds the
            # schemes, keyed by lead_id; and the schemes it publishes, keyed by scheme_id.
            TopicSpec(self.name("scheme-inputs"), 1, compacted),
            TopicSpec(self.name("schemes"), 1, compacted),
            # Each department's own leads, so it can be granted read on its topic only.
            *(TopicSpec(self.department(d.code), partitions) for d in DEPARTMENTS),
            # Current states, compacted: each lead's status with its history, keyed by
            # lead_id; the negative list, keyed by entity, on one partition so every reader
            # applies the changes in one order.
            TopicSpec(self.name("lead-status"), partitions, compacted),
            TopicSpec(self.name("watchlist"), 1, compacted),
            # One partition, so every worker sees the publications in one order; compacted,
            # keyed by model version; a model is one message of a few MB.
            TopicSpec(
                self.name("models"),
                1,
                {**compacted, "max.message.bytes": str(MODEL_MESSAGE_MAX_BYTES)},
            ),
        ]
        return {spec.name: spec for spec in specs}

    def create_all(self, specs: dict[str, TopicSpec] | None = None) -> list[str]:
        """Create the deployment's topics (or ``specs``) that do not exist yet; return those
        created.

        Raises TopicLayoutError if an existing input topic has another partition count than
        the tables: its partitions would not be co-partitioned with the accounts' state."""
        from kafka.admin import KafkaAdminClient, NewTopic
        from kafka.errors import TopicAlreadyExistsError

        from streams.kafka_clients import kafka_python_kwargs

        admin = KafkaAdminClient(**kafka_python_kwargs(self.settings), client_id="fundwatch")
        try:
            existing = set(admin.list_topics())
            self._check_input_partitions(admin, existing)
            missing = [
                NewTopic(
                    spec.name,
                    spec.partitions,
                    self.settings.replication_factor,
                    topic_configs=spec.config,
                )
                for spec in (specs or self.specs()).values()
                if spec.name not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # a worker created it
                    admin.create_topics(missing)
            return [t.name for t in missing]
        finally:
            admin.close()

    def _check_input_partitions(self, admin: object, existing: set[str]) -> None:
        inputs = [t for t in (*self.inputs, self.name("trails")) if t in existing]
        for description in admin.describe_topics(inputs) if inputs else ():  # type: ignore[attr-defined]
            count = len(description["partitions"])
            if count != self.settings.partitions:
                raise TopicLayoutError(
                    description["name"],
                    f"has {count} partitions, the tables {self.settings.partitions} "
                    "(FUNDWATCH_PARTITIONS): every input topic needs the tables' count",
                )


def ensure_topics(settings: Settings, specs: dict[str, TopicSpec] | None = None) -> list[str]:
    """Create the deployment's topics that do not exist yet (``TopicManager.create_all``)."""
    return TopicManager(settings).create_all(specs)
