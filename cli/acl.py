"""``fundwatch acl apply|show``: the broker's ACLs from one readable policy file.

The policy (``deploy/security/policy.toml``) names the Kafka user of the workers, of each bank
and of each department; this module turns it into ACLs for Kafka's StandardAuthorizer:

* the service user (workers, operators' tools): every topic under ``<prefix>.`` (the prefix
  *and* the separator), and, literally, the names Faust gives its own topics
  (``<prefix>-<table>-changelog``, ``<prefix>-__assignor-__leader``) and the workers' consumer
  group (``<prefix>``): read, write, create, describe;
* a bank: write (and describe) its own ``<prefix>.reports.<bank_id>``; read its own dead
  letters, ``<prefix>.reports.<bank_id>.dlq``, with consumer groups named
  ``<prefix>.bank.<bank_id>.*``;
* a department: read its own ``<prefix>.leads.dept.<code>``, with consumer groups named
  ``<prefix>.dept.<code>.*``; the ``all_leads`` departments also read every lead, the lead
  statuses and the negative list.

``apply`` makes this prefix's ACLs match the policy: it adds what is missing and removes what
the policy no longer grants. It manages only the ALLOW ACLs of its own prefix; another
deployment's (another prefix on the same broker, recognised by its service user's grant),
DENY and per-host ACLs, and ACLs on anything else are left alone and counted. Admin users are
the broker's ``super.users``, not ACLs. Run it as an admin (``--command-config
admin.properties``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
from faust.cli import AppCommand, argument, option
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.admin._users import ScramMechanism, UserScramCredentialUpsertion

from cli.commands import command, command_config_option
from schemas.errors import FundwatchError
from schemas.sectors import DEPARTMENTS
from streams.app import settings
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import BANK_ID, Settings

DEFAULT_POLICY = Path("deploy/security/policy.toml")
DEPARTMENT_CODES = frozenset(d.code for d in DEPARTMENTS)
USER_NAME_FORBIDDEN = set(" \t\r\n,;=\"'")


class PolicyError(FundwatchError, ValueError):
    """A policy file fundwatch cannot apply; names the file and the entry."""

    def __init__(self, source: str, entry: str, problem: str) -> None:
        self.source = source
        self.entry = entry
        super().__init__(f"{source}: {entry}: {problem}")


class AclApplyError(FundwatchError, RuntimeError, exit_code=1, http_status=502):
    """The broker refused part of an ACL or user change."""


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    service_users: tuple[str, ...]
    banks: tuple[tuple[str, str], ...]  # (bank_id, user)
    departments: tuple[tuple[str, str], ...]  # (department code, user)
    all_leads: frozenset[str]  # department codes that read every lead

    def users(self) -> list[str]:
        return [
            *self.service_users,
            *(user for _, user in self.banks),
            *(user for _, user in self.departments),
        ]


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may do ``operation`` on a resource."""

    principal: str  # User:<name>
    resource_type: str  # TOPIC, GROUP
    pattern_type: str  # LITERAL, PREFIXED
    resource_name: str
    operation: str  # READ, WRITE, CREATE, DESCRIBE, DESCRIBE_CONFIGS

    def describe(self) -> str:
        pattern = "*" if self.pattern_type == "PREFIXED" else ""
        return (
            f"{self.principal:<24} {self.operation:<16} "
            f"{self.resource_type.lower()} {self.resource_name}{pattern}"
        )

    def to_acl(self) -> ACL:
        return ACL(
            principal=self.principal,
            host="*",
            operation=ACLOperation[self.operation],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                ResourceType[self.resource_type],
                self.resource_name,
                ACLResourcePatternType[self.pattern_type],
            ),
        )


# ---------------------------------------------------------------- the policy file


def load_policy(path: Path) -> AccessPolicy:
    source = str(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(source, "(file)", f"cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, "(file)", f"not valid TOML: {exc}") from exc
    return parse_policy(document, source)


def parse_policy(document: dict[str, object], source: str = "<policy>") -> AccessPolicy:
    service = _table(document, "service", source)
    service_users = service.get("users", [])
    if not isinstance(service_users, list) or not service_users:
        raise PolicyError(source, "service.users", "a non-empty list of user names")
    banks = _user_table(document, "banks", source)
    for bank_id, _ in banks:
        if not BANK_ID.fullmatch(bank_id) or bank_id == "dlq":
            raise PolicyError(source, f"banks.{bank_id}", "not usable in a topic name")
    departments = _user_table(document, "departments", source)
    for code, _ in departments:
        if code not in DEPARTMENT_CODES:
            raise PolicyError(
                source, f"departments.{code}", f"not a department code ({sorted(DEPARTMENT_CODES)})"
            )
    all_leads = _table(document, "all_leads", source).get("departments", [])
    if not isinstance(all_leads, list) or any(code not in dict(departments) for code in all_leads):
        raise PolicyError(
            source, "all_leads.departments", "a list of codes from the [departments] table"
        )
    policy = AccessPolicy(
        service_users=tuple(_user(u, source, "service.users") for u in service_users),
        banks=banks,
        departments=departments,
        all_leads=frozenset(all_leads),
    )
    seen: set[str] = set()
    for user in policy.users():
        if user in seen:
            raise PolicyError(source, user, "listed twice: each user has one role")
        seen.add(user)
    return policy


def _table(document: dict[str, object], name: str, source: str) -> dict[str, object]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise PolicyError(source, name, "must be a table")
    return table


def _user_table(document: dict[str, object], name: str, source: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key, _user(user, source, f"{name}.{key}"))
        for key, user in _table(document, name, source).items()
    )


def _user(value: object, source: str, entry: str) -> str:
    if not isinstance(value, str) or not value or USER_NAME_FORBIDDEN & set(value):
        raise PolicyError(source, entry, f"{value!r} is not a user name")
    return value


# ---------------------------------------------------------------- policy -> ACLs

# What the service user may do on the deployment's topics; never DELETE, ALTER or ALL.
SERVICE_TOPIC_OPERATIONS = ("READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS")


def policy_grants(policy: AccessPolicy, settings: Settings) -> set[Grant]:
    """Every ACL the policy grants, for the topics of ``settings.topic_prefix``.

    Prefixes end with the separator (``fundwatch.``): ``fundwatchEVIL`` and
    ``fundwatch2.reports`` are not this deployment's. The names Faust gives its own topics and
    group (``fundwatch-accounts-changelog``, the group ``fundwatch``) are granted literally."""
    topics = settings.topics
    grants: set[Grant] = set()

    def allow(user: str, kind: str, pattern: str, name: str, *operations: str) -> None:
        grants.update(Grant(f"User:{user}", kind, pattern, name, op) for op in operations)

    for user in policy.service_users:
        allow(user, "TOPIC", "PREFIXED", topics.name(""), *SERVICE_TOPIC_OPERATIONS)
        for topic in topics.faust_internal:
            allow(user, "TOPIC", "LITERAL", topic, *SERVICE_TOPIC_OPERATIONS)
        # The workers' group only: not the departments' or banks' (<prefix>.dept.*, .bank.*).
        allow(user, "GROUP", "LITERAL", topics.worker_group, "READ", "DESCRIBE")
    for bank_id, user in policy.banks:
        allow(user, "TOPIC", "LITERAL", topics.bank(bank_id), "WRITE", "DESCRIBE")
        # Its own dead letters: why its reports were refused.
        allow(user, "TOPIC", "LITERAL", topics.bank_dead_letters(bank_id), "READ", "DESCRIBE")
        for topic in (topics.bank(bank_id), topics.bank_dead_letters(bank_id)):
            allow(user, "TOPIC", "LITERAL", topic, "DESCRIBE_CONFIGS")  # kafka-topics --describe
        allow(user, "GROUP", "PREFIXED", topics.bank_groups(bank_id), "READ")
    for code, user in policy.departments:
        own = topics.department(code)
        allow(user, "TOPIC", "LITERAL", own, "READ", "DESCRIBE", "DESCRIBE_CONFIGS")
        allow(user, "GROUP", "PREFIXED", topics.department_groups(code), "READ")
        if code in policy.all_leads:
            for topic in ("leads", "lead-status", "watchlist", "schemes"):
                allow(user, "TOPIC", "LITERAL", topics.name(topic), "READ", "DESCRIBE")
            allow(user, "TOPIC", "PREFIXED", topics.name("leads.dept."), "READ", "DESCRIBE")
    return grants


def owns(prefix: str, resource_type: str, pattern_type: str, name: str) -> bool:
    """Whether an ACL's resource is one the policy of ``prefix`` could grant: a name under
    ``<prefix>.``, one of Faust's own names of that app id, or the bare prefix (the workers'
    group; and the PREFIXED grants without separator of earlier versions, to be replaced).
    A policy grants topics and groups only: other resources (transactional ids ...) are left
    alone whatever their name."""
    if resource_type not in ("TOPIC", "GROUP"):
        return False
    if name == prefix or name.startswith(f"{prefix}."):
        return True
    faust_internal = Settings(topic_prefix=prefix).topics.faust_internal
    return resource_type == "TOPIC" and pattern_type == "LITERAL" and name in faust_internal


def deployment_prefixes(acls: Iterable[ACL]) -> set[str]:
    """The prefixes of the deployments whose ACLs are on the broker: each has its service
    user's PREFIXED CREATE on ``<prefix>.`` (or, before the separator, on ``<prefix>``)."""
    return {
        acl.resource_pattern.resource_name.removesuffix(".")
        for acl in acls
        if acl.resource_pattern.resource_type is ResourceType.TOPIC
        and acl.resource_pattern.pattern_type is ACLResourcePatternType.PREFIXED
        and acl.operation is ACLOperation.CREATE
        and acl.resource_pattern.resource_name.removesuffix(".")
    }


def owner(acl: ACL, prefixes: Iterable[str]) -> str | None:
    """The deployment an ACL belongs to: the longest prefix that owns its resource (so the
    ACLs of a deployment ``fundwatch.v2`` are not those of ``fundwatch``)."""
    pattern = acl.resource_pattern
    kind, name = pattern.resource_type.name, pattern.resource_name
    candidates = [p for p in prefixes if owns(p, kind, pattern.pattern_type.name, name)]
    return max(candidates, key=len, default=None)


@dataclass(frozen=True, slots=True)
class BrokerAcls:
    """The broker's ACLs as one prefix's ``acl apply`` sees them."""

    grants: set[Grant]  # the ALLOW ACLs of this prefix: the ones apply manages
    not_from_policy: list[ACL]  # this prefix's DENY ACLs and ACLs for one host: left alone
    other_deployments: dict[str, int]  # prefix -> its ACLs, left alone
    elsewhere: int  # ACLs on resources of no deployment (cluster, other topics), left alone
    nested: list[str]  # other deployments whose names fall under this prefix's, or contain it

    def left_alone(self, prefix: str) -> list[str]:
        """What apply does not touch, one line each."""
        lines = [
            f"left alone: {count} ACLs of prefix {other}"
            for other, count in sorted(self.other_deployments.items())
        ]
        if self.elsewhere:
            lines.append(f"left alone: {self.elsewhere} ACLs on resources outside {prefix}.*")
        if self.not_from_policy:
            lines.append(
                f"left alone: {len(self.not_from_policy)} DENY or per-host ACLs under {prefix}"
            )
        lines += [
            f"warning: the prefixes {prefix} and {other} extend one another: the PREFIXED "
            f"grant of the shorter reaches the topics of the longer; give each deployment a "
            "prefix that does not start with another's followed by '.'"
            for other in self.nested
        ]
        return lines


def current_grants(admin: KafkaAdminClient, prefix: str) -> BrokerAcls:
    """The broker's ACLs, sorted into this prefix's (ALLOW for any host: what apply manages),
    and everything apply leaves alone."""
    everything = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    acls, _ = admin.describe_acls(everything)
    return sort_acls(acls, prefix)


def sort_acls(acls: list[ACL], prefix: str) -> BrokerAcls:
    prefixes = deployment_prefixes(acls) | {prefix}
    grants: set[Grant] = set()
    not_from_policy: list[ACL] = []
    other_deployments: dict[str, int] = {}
    elsewhere = 0
    for acl in acls:
        belongs_to = owner(acl, prefixes)
        if belongs_to is None:
            elsewhere += 1
            continue
        if belongs_to != prefix:
            other_deployments[belongs_to] = other_deployments.get(belongs_to, 0) + 1
            continue
        pattern = acl.resource_pattern
        if acl.permission_type is not ACLPermissionType.ALLOW or acl.host != "*":
            not_from_policy.append(acl)
            continue
        grants.add(
            Grant(
                acl.principal,
                pattern.resource_type.name,
                pattern.pattern_type.name,
                pattern.resource_name,
                acl.operation.name,
            )
        )
    nested = sorted(
        other
        for other in prefixes - {prefix}
        if other.startswith(f"{prefix}.") or prefix.startswith(f"{other}.")
    )
    return BrokerAcls(grants, not_from_policy, other_deployments, elsewhere, nested)


def apply_grants(admin: KafkaAdminClient, wanted: set[Grant], present: set[Grant]) -> None:
    missing, extra = sorted(wanted - present), sorted(present - wanted)
    if missing:
        result = admin.create_acls([g.to_acl() for g in missing])
        if result["failed"]:
            raise AclApplyError(f"the broker refused {len(result['failed'])} ACLs: {result}")
    if extra:
        for _, _, error in admin.delete_acls([g.to_acl() for g in extra]):
            if error.errno != 0:
                raise AclApplyError(f"the broker refused to delete ACLs: {error}")


def upsert_passwords(admin: KafkaAdminClient, users: Iterable[str], directory: Path) -> list[str]:
    """Set the SCRAM-SHA-512 password of each user with a file in ``directory`` (its whole
    content, as Kafka's DirectoryConfigProvider reads it); return the users set."""
    upserts = [
        UserScramCredentialUpsertion(
            user, ScramMechanism.SCRAM_SHA_512, (directory / user).read_text(encoding="utf-8")
        )
        for user in users
        if (directory / user).is_file()
    ]
    if not upserts:
        return []
    errors = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
    if errors:
        raise AclApplyError(f"the broker refused passwords: {errors}")
    return [u.user for u in upserts]


@command(
    argument("action", type=click.Choice(["apply", "show"])),
    option(
        "--policy",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_POLICY,
        show_default=True,
        help="The access policy (TOML).",
    ),
    option(
        "--passwords",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="apply: also set the SCRAM-SHA-512 password of each policy user that has a file "
        "of that name here.",
    ),
    option("--dry-run", is_flag=True, help="apply: print the changes, make none."),
    command_config_option("An admin's client.properties (default: FUNDWATCH_CLIENT_PROPERTIES)."),
)
async def acl(
    self: AppCommand,
    action: str,
    policy: Path,
    passwords: Path | None,
    dry_run: bool,
    command_config: Path | None,
) -> None:
    """Apply the access policy to the broker's ACLs, or show the ACLs of this deployment."""
    client_settings = (
        settings.with_client_properties(str(command_config)) if command_config else settings
    )
    access = load_policy(policy)
    admin = KafkaAdminClient(**kafka_python_kwargs(client_settings), client_id="fundwatch-acl")
    prefix = settings.topic_prefix
    try:
        broker = current_grants(admin, prefix)
        present = broker.grants
        if action == "show":
            print(render_grants(broker, prefix))
            return
        wanted = policy_grants(access, settings)
        for grant in sorted(wanted - present):
            print(f"+ {grant.describe()}")
        for grant in sorted(present - wanted):
            print(f"- {grant.describe()}")
        if not dry_run:
            try:
                apply_grants(admin, wanted, present)
                set_users = upsert_passwords(admin, access.users(), passwords) if passwords else []
            except AclApplyError as exc:
                raise SystemExit(f"acl: {exc}") from exc
            if set_users:
                print(f"passwords set: {', '.join(set_users)}")
        verb = "would add" if dry_run else "added"
        print(
            f"{verb} {len(wanted - present)}, "
            f"{'would remove' if dry_run else 'removed'} {len(present - wanted)}, "
            f"kept {len(wanted & present)} ACLs under {prefix}"
        )
        for line in broker.left_alone(prefix):
            print(line)
        _warn_on_bank_mismatch(access, settings)
    finally:
        admin.close()


def render_grants(broker: BrokerAcls, prefix: str) -> str:
    lines = [grant.describe() for grant in sorted(broker.grants)]
    lines += [f"(not from a policy) {acl}" for acl in broker.not_from_policy]
    if not lines:
        lines.append(f"no ACLs on topics or groups under {prefix}")
    return "\n".join([*lines, *broker.left_alone(prefix)])


def _warn_on_bank_mismatch(access: AccessPolicy, settings: Settings) -> None:
    policy_banks = {bank_id for bank_id, _ in access.banks}
    if settings.bank_ids and set(settings.bank_ids) != policy_banks:
        print(
            "note: FUNDWATCH_BANKS (the topics the workers read) lists "
            f"{sorted(settings.bank_ids)}, the policy {sorted(policy_banks)}"
        )
