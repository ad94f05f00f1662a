"""``fundwatch leads list|show|follow`` and ``fundwatch schemes list|show``.

Two click groups on Faust's command line (``faust.cli.base.cli``, the group every
``app.command`` joins). Their commands only read the topics with a blocking consumer, so they
run as plain click commands rather than in a Faust worker.

The 18-option ``fundwatch leads`` of the last release still works for one more (plain
``fundwatch leads``, ``--follow``, ``--show ID [--set-status ...]``, ``--schemes``,
``--scheme ID``): it does what it did and says on stderr what to type instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from faust.cli.base import cli

from casework.lead_status import LeadStatus, Outcome
from cli.commands import failing_clearly
from cli.lead_text import LeadFilter, SchemeFilter, show_leads, show_schemes
from cli.output import say, warn
from schemas.lead import Severity
from schemas.sectors import DEPARTMENTS
from streams.app import settings
from streams.settings import Settings

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _apply(*decorators: Decorator) -> Decorator:
    def apply(fun: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            fun = decorator(fun)
        return fun

    return apply


def _lang(hidden: bool = False) -> Decorator:
    return click.option(
        "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, hidden=hidden
    )


def _topic_department() -> Decorator:
    """``show``'s --department: only which department's topic is read, not a filter."""
    return click.option(
        "--department",
        type=click.Choice([d.code for d in DEPARTMENTS]),
        default=None,
        help="With --department-topic: the department whose topic is read.",
    )


def _reading(hidden: bool = False) -> Decorator:
    """Where the leads are read from: the leads topic, or a department's own."""
    return _apply(
        click.option(
            "--department-topic",
            is_flag=True,
            hidden=hidden,
            help="With --department: read that department's own topic, "
            "<prefix>.leads.dept.<code>, the only one its Kafka user may read (statuses are "
            "not shown).",
        ),
        click.option(
            "--command-config",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            hidden=hidden,
            help="Kafka client.properties: security.protocol, sasl.*, ssl.* "
            "(and bootstrap.servers).",
        ),
    )


def _scheme_filters(hidden: bool = False) -> Decorator:
    return _apply(
        click.option(
            "--limit", type=int, default=20, show_default=True, hidden=hidden, help="At most."
        ),
        click.option(
            "--county",
            default=None,
            hidden=hidden,
            help="A county name (隆阳区) or 6-digit region code.",
        ),
        click.option("--sector", default=None, hidden=hidden, help="A sector code: p2p_lending."),
        click.option(
            "--department",
            type=click.Choice([d.code for d in DEPARTMENTS]),
            default=None,
            hidden=hidden,
            help="A department's code: its leads (routed to it).",
        ),
        click.option(
            "--severity",
            type=click.Choice([s.value for s in Severity]),
            default=None,
            hidden=hidden,
        ),
    )


def _lead_filters(hidden: bool = False) -> Decorator:
    return _apply(
        _scheme_filters(hidden),
        click.option(
            "--status",
            type=click.Choice([s.value for s in LeadStatus]),
            default=None,
            hidden=hidden,
            help="Only leads with this handling status.",
        ),
    )


def _status_change(hidden: bool = False) -> Decorator:
    return _apply(
        click.option(
            "--set-status",
            type=click.Choice([s.value for s in LeadStatus]),
            default=None,
            hidden=hidden,
            help="Change the lead's status (new, tracking, verifying, handed_over, closed).",
        ),
        click.option(
            "--note", default="", hidden=hidden, help="With --set-status: a note (to go back)."
        ),
        click.option(
            "--outcome",
            type=click.Choice([o.value for o in Outcome]),
            default=None,
            hidden=hidden,
            help="With --set-status closed: confirmed, not_confirmed or other.",
        ),
        click.option(
            "--by", default=None, hidden=hidden, help="With --set-status: who (the login name)."
        ),
        click.option(
            "--list-account",
            is_flag=True,
            hidden=hidden,
            help="With --set-status: also put the lead's account on the negative list.",
        ),
    )


def _client(
    command_config: Path | None, department: str | None, department_topic: bool
) -> tuple[Settings, str | None, str | None]:
    """The client settings, the department topic to read (if any) and the department left
    to filter on (none when its own topic is read: it holds that department's leads)."""
    client_settings = (
        settings.with_client_properties(str(command_config)) if command_config else settings
    )
    if not department_topic:
        return client_settings, None, department
    if department is None:
        raise click.UsageError("--department-topic needs --department CODE")
    return client_settings, client_settings.topics.department(department), None


# -- fundwatch leads ----------------------------------------------------------------------------


def _list_leads(
    follow: bool,
    limit: int,
    lang: str,
    county: str | None,
    sector: str | None,
    department: str | None,
    severity: str | None,
    status: str | None,
    department_topic: bool,
    command_config: Path | None,
) -> None:
    client_settings, topic, department = _client(command_config, department, department_topic)
    show_leads(
        client_settings,
        limit=limit,
        follow=follow,
        lang=lang,
        lead_filter=LeadFilter(county, sector, department, severity, status),
        leads_topic=topic,
    )


def _show_lead(
    lead_id: str,
    lang: str,
    department: str | None,
    department_topic: bool,
    command_config: Path | None,
    set_status: str | None,
    note: str,
    outcome: str | None,
    by: str | None,
    list_account: bool,
) -> None:
    if set_status is not None:
        from cli.casework_commands import set_lead_status

        say(set_lead_status(lead_id, set_status, note, outcome, by, list_account))
        return
    client_settings, topic, _ = _client(command_config, department, department_topic)
    show_leads(
        client_settings,
        limit=0,
        follow=False,
        lang=lang,
        lead_filter=LeadFilter(lead_id=lead_id),
        leads_topic=topic,
    )


@cli.group(
    "leads",
    invoke_without_command=True,
    help="Show leads with their reasons and status, latest revision of each: list them, "
    "show one in full (and change its status), or follow new revisions as they come.",
)
@click.option("--follow", is_flag=True, hidden=True)
@click.option("--show", "lead_id", default=None, hidden=True)
@click.option("--schemes", "list_schemes", is_flag=True, hidden=True)
@click.option("--scheme", "scheme_id", default=None, hidden=True)
@_lead_filters(hidden=True)
@_lang(hidden=True)
@_reading(hidden=True)
@_status_change(hidden=True)
@click.pass_context
def leads(ctx: click.Context, **old: Any) -> None:
    given = [name for name in old if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT]
    if ctx.invoked_subcommand is not None:
        if given:
            raise click.UsageError(
                f"options go after the subcommand: fundwatch leads {ctx.invoked_subcommand} "
                + " ".join(f"--{name.replace('_', '-')}" for name in given)
            )
        return
    with failing_clearly():
        _old_leads(**old)


def _old_leads(
    follow: bool,
    lead_id: str | None,
    list_schemes: bool,
    scheme_id: str | None,
    set_status: str | None,
    note: str,
    outcome: str | None,
    by: str | None,
    list_account: bool,
    status: str | None,
    **reading: Any,
) -> None:
    """The last release's ``fundwatch leads``, said once more in the new words."""
    if list_schemes or scheme_id is not None:
        # Refused rather than ignored: each would silently do nothing to schemes.
        if list_schemes and scheme_id is not None:
            raise click.UsageError("--schemes lists the schemes, --scheme ID shows one: not both")
        if lead_id is not None or set_status is not None:
            raise click.UsageError("--show and --set-status are for leads, not with schemes")
        if status is not None:
            raise click.UsageError("--status filters leads; a scheme has no status of its own")
        if follow:
            raise click.UsageError("--follow follows leads; schemes are shown as they stand")
        if scheme_id is not None:
            _deprecated(f"leads --scheme {scheme_id}", f"schemes show {scheme_id}")
            _show_scheme(
                scheme_id,
                reading["lang"],
                reading["department"],
                reading["department_topic"],
                reading["command_config"],
            )
        else:
            _deprecated("leads --schemes", "schemes list")
            _list_schemes(**reading)
        return
    if set_status is not None and lead_id is None:
        raise click.UsageError("--set-status needs --show LEAD_ID")
    if lead_id is not None:
        _deprecated(f"leads --show {lead_id}", f"leads show {lead_id}")
        _show_lead(
            lead_id,
            reading["lang"],
            reading["department"],
            reading["department_topic"],
            reading["command_config"],
            set_status,
            note,
            outcome,
            by,
            list_account,
        )
        return
    _deprecated("leads --follow" if follow else "leads", "leads follow" if follow else "leads list")
    _list_leads(follow=follow, status=status, **reading)


def _deprecated(old: str, new: str) -> None:
    warn(f"fundwatch {old} is deprecated and goes in the next release: use fundwatch {new}")


@leads.command("list")
@_lead_filters()
@_lang()
@_reading()
def leads_list(**options: Any) -> None:
    """The latest leads (at most --limit), oldest evidence first, filtered on each lead's
    latest revision."""
    with failing_clearly():
        _list_leads(follow=False, **options)


@leads.command("follow")
@_lead_filters()
@_lang()
@_reading()
def leads_follow(**options: Any) -> None:
    """The latest leads, then each new revision that matches, as it comes (Ctrl-C stops)."""
    with failing_clearly():
        _list_leads(follow=True, **options)


@leads.command("show")
@click.argument("lead_id")
@_lang()
@_topic_department()
@_reading()
@_status_change()
def leads_show(lead_id: str, **options: Any) -> None:
    """One lead in full: every field, its money trail, its scheme and its status history;
    with --set-status, change its status instead (published to the lead-status topic)."""
    with failing_clearly():
        _show_lead(lead_id, **options)


# -- fundwatch schemes --------------------------------------------------------------------------


def _list_schemes(
    limit: int,
    lang: str,
    county: str | None,
    sector: str | None,
    department: str | None,
    severity: str | None,
    department_topic: bool,
    command_config: Path | None,
) -> None:
    client_settings, topic, department = _client(command_config, department, department_topic)
    show_schemes(
        client_settings,
        lang=lang,
        limit=limit,
        scheme_filter=SchemeFilter(county, sector, department, severity),
        leads_topic=topic,
    )


def _show_scheme(
    scheme_id: str,
    lang: str,
    department: str | None,
    department_topic: bool,
    command_config: Path | None,
) -> None:
    client_settings, topic, _ = _client(command_config, department, department_topic)
    show_schemes(client_settings, lang=lang, limit=0, scheme_id=scheme_id, leads_topic=topic)


@cli.group("schemes")
def schemes() -> None:
    """The suspected schemes (案件线索): the leads of accounts joined by money trails or by
    one customer, across banks and counties."""


@schemes.command("list")
@_scheme_filters()
@_lang()
@_reading()
def schemes_list(**options: Any) -> None:
    """The schemes, newest activity first (at most --limit)."""
    with failing_clearly():
        _list_schemes(**options)


@schemes.command("show")
@click.argument("scheme_id")
@_lang()
@_topic_department()
@_reading()
def schemes_show(scheme_id: str, **options: Any) -> None:
    """One scheme in full: its members, a picture of the money flow, and the flows."""
    with failing_clearly():
        _show_scheme(scheme_id, **options)
