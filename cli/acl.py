"""``fundwatch acl apply|show``: the broker's ACLs from one readable policy file.

The policy (``deploy/security/policy.toml``) names the Kafka user of the workers, of each bank
and of each department; this module turns it into ACLs for Kafka's StandardAuthorizer:

* the service user (workers, operators' tools): every topic and consumer group under the topic
  prefix: read, write, create, describe;
* a bank: write (and describe) its own ``<prefix>.reports.<bank_id>``, nothing else;
* a department: read its own ``<prefix>.leads.dept.<code>``, with consumer groups named
  ``<prefix>.dept.<code>.*``; the ``all_leads`` departments also read every lead, the lead
  statuses and the negative list.

``apply`` makes the ACLs on resources under the prefix match the policy: it adds what is
missing and removes what the policy no longer grants. Admin users are the broker's
``super.users``, not ACLs. Run it as an admin (``--command-config admin.properties``).
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

from cli.commands import command_config_option
from schemas.errors import FundwatchError
from schemas.sectors import DEPARTMENTS
from streams.app import app, settings
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


def policy_grants(policy: AccessPolicy, settings: Settings) -> set[Grant]:
    """Every ACL the policy grants, for the topics of ``settings.topic_prefix``."""
    prefix = settings.topic_prefix
    grants: set[Grant] = set()

    def allow(user: str, kind: str, pattern: str, name: str, *operations: str) -> None:
        grants.update(Grant(f"User:{user}", kind, pattern, name, op) for op in operations)

    for user in policy.service_users:
        allow(user, "TOPIC", "PREFIXED", prefix, "READ", "WRITE", "CREATE", "DESCRIBE")
        allow(user, "TOPIC", "PREFIXED", prefix, "DESCRIBE_CONFIGS")
        allow(user, "GROUP", "PREFIXED", prefix, "READ", "DESCRIBE")
    for bank_id, user in policy.banks:
        allow(user, "TOPIC", "LITERAL", settings.topics.bank(bank_id), "WRITE", "DESCRIBE")
    for code, user in policy.departments:
        allow(user, "TOPIC", "LITERAL", settings.topics.department(code), "READ", "DESCRIBE")
        allow(user, "GROUP", "PREFIXED", f"{prefix}.dept.{code}.", "READ")
        if code in policy.all_leads:
            for topic in ("leads", "lead-status", "watchlist", "schemes"):
                allow(user, "TOPIC", "LITERAL", settings.topics.name(topic), "READ", "DESCRIBE")
            allow(
                user, "TOPIC", "PREFIXED", settings.topics.name("leads.dept."), "READ", "DESCRIBE"
            )
    return grants


def is_under_prefix(name: str, prefix: str) -> bool:
    """A topic or group of this deployment: the prefix, then '.' or '-' (or nothing)."""
    return name == prefix or name.startswith((f"{prefix}.", f"{prefix}-"))


# ---------------------------------------------------------------- the broker


def current_grants(admin: KafkaAdminClient, prefix: str) -> tuple[set[Grant], list[ACL]]:
    """ALLOW ACLs on resources under the prefix; and every other ACL there (DENY, hosts),
    which apply leaves alone but reports."""
    everything = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    acls, _ = admin.describe_acls(everything)
    grants: set[Grant] = set()
    others: list[ACL] = []
    for acl in acls:
        pattern = acl.resource_pattern
        if not is_under_prefix(pattern.resource_name, prefix):
            continue
        if acl.permission_type is not ACLPermissionType.ALLOW or acl.host != "*":
            others.append(acl)
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
    return grants, others


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


@app.command(
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
    try:
        access = load_policy(policy)
    except PolicyError as exc:
        raise SystemExit(f"acl: {exc}") from exc
    admin = KafkaAdminClient(**kafka_python_kwargs(client_settings), client_id="fundwatch-acl")
    try:
        present, others = current_grants(admin, settings.topic_prefix)
        if action == "show":
            print(render_grants(present, others, settings.topic_prefix))
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
            f"kept {len(wanted & present)} ACLs under {settings.topic_prefix}"
        )
        _warn_on_bank_mismatch(access, settings)
    finally:
        admin.close()


def render_grants(grants: set[Grant], others: list[ACL], prefix: str) -> str:
    if not grants and not others:
        return f"no ACLs on topics or groups under {prefix}"
    lines = [grant.describe() for grant in sorted(grants)]
    lines += [f"(not from a policy) {acl}" for acl in others]
    return "\n".join(lines)


def _warn_on_bank_mismatch(access: AccessPolicy, settings: Settings) -> None:
    policy_banks = {bank_id for bank_id, _ in access.banks}
    if settings.bank_ids and set(settings.bank_ids) != policy_banks:
        print(
            "note: FUNDWATCH_BANKS (the topics the workers read) lists "
            f"{sorted(settings.bank_ids)}, the policy {sorted(policy_banks)}"
        )
