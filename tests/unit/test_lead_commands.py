"""`fundwatch leads` and `fundwatch schemes`: each old spelling does what its new one does
and says so on stderr; the options go with the subcommand that uses them.

What is read and shown is replaced by a recorder here (the integration test
tests/integration/test_lead_handling.py runs them on a broker): these tests are about which
call each command line makes."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import cli.casework_commands
import cli.lead_commands
from cli.lead_commands import leads, schemes
from cli.lead_text import LeadFilter, SchemeFilter


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    made: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> str:
            made.append((name, {**dict(enumerate(args[1:])), **kwargs}))
            return "done"

        return record

    monkeypatch.setattr(cli.lead_commands, "show_leads", recorder("show_leads"))
    monkeypatch.setattr(cli.lead_commands, "show_schemes", recorder("show_schemes"))
    monkeypatch.setattr(cli.casework_commands, "set_lead_status", recorder("set_lead_status"))
    return made


def run(group: Any, *args: str) -> Any:
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


SAME = [
    ((leads, ["--lang", "en"]), (leads, ["list", "--lang", "en"]), "fundwatch leads list"),
    ((leads, ["--follow", "--limit", "0"]), (leads, ["follow", "--limit", "0"]), "leads follow"),
    (
        (leads, ["--status", "verifying", "--county", "腾冲市"]),
        (leads, ["list", "--status", "verifying", "--county", "腾冲市"]),
        "leads list",
    ),
    ((leads, ["--show", "L1", "--lang", "en"]), (leads, ["show", "L1", "--lang", "en"]), "show L1"),
    (
        (leads, ["--show", "L1", "--set-status", "closed", "--outcome", "confirmed"]),
        (leads, ["show", "L1", "--set-status", "closed", "--outcome", "confirmed"]),
        "leads show L1",
    ),
    (
        (leads, ["--schemes", "--severity", "major", "--limit", "3"]),
        (schemes, ["list", "--severity", "major", "--limit", "3"]),
        "schemes list",
    ),
    (
        (leads, ["--scheme", "SC1", "--lang", "en"]),
        (schemes, ["show", "SC1", "--lang", "en"]),
        "SC1",
    ),
    (
        (leads, ["--department", "cbrc", "--department-topic"]),
        (leads, ["list", "--department", "cbrc", "--department-topic"]),
        "leads list",
    ),
]


@pytest.mark.parametrize(("old", "new", "hint"), SAME)
def test_an_old_spelling_makes_the_new_ones_call_and_says_so(
    calls: list[tuple[str, dict[str, Any]]],
    old: tuple[Any, list[str]],
    new: tuple[Any, list[str]],
    hint: str,
) -> None:
    said = run(old[0], *old[1])
    assert said.exit_code == 0, said.output
    assert "deprecated" in said.stderr and hint in said.stderr
    done = run(new[0], *new[1])
    assert done.exit_code == 0 and "deprecated" not in done.stderr
    assert len(calls) == 2 and calls[0] == calls[1]


def test_filters_reach_the_lead_filter(calls: list[tuple[str, dict[str, Any]]]) -> None:
    run(leads, "list", "--sector", "p2p_lending", "--department", "cbrc", "--severity", "major")
    ((name, call),) = calls
    assert name == "show_leads" and call["follow"] is False and call["leads_topic"] is None
    assert call["lead_filter"] == LeadFilter(None, "p2p_lending", "cbrc", "major", None)
    run(schemes, "list", "--county", "隆阳区")
    assert calls[1][1]["scheme_filter"] == SchemeFilter(county="隆阳区")


def test_a_department_topic_is_read_instead_of_filtering(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    run(leads, "follow", "--department", "cbrc", "--department-topic")
    ((_, call),) = calls
    assert call["follow"] is True
    assert call["leads_topic"].endswith(".leads.dept.cbrc")
    assert call["lead_filter"] == LeadFilter()  # the topic holds that department's leads


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--limit", "5", "list"], "options go after the subcommand: fundwatch leads list --limit"),
        (["--schemes", "--scheme", "SC1"], "not both"),
        (["--schemes", "--status", "new"], "a scheme has no status"),
        (["--scheme", "SC1", "--follow"], "schemes are shown as they stand"),
        (["--set-status", "closed"], "--set-status needs --show LEAD_ID"),
        (["list", "--department-topic"], "--department-topic needs --department CODE"),
    ],
)
def test_options_that_mean_nothing_together_are_refused(
    calls: list[tuple[str, dict[str, Any]]], args: list[str], refusal: str
) -> None:
    said = CliRunner().invoke(leads, args)
    assert said.exit_code == 2
    assert refusal in said.stderr
    assert calls == []


def test_the_new_commands_list_only_their_own_options() -> None:
    help_text = run(leads, "list", "--help").output
    assert "--status" in help_text and "--set-status" not in help_text
    assert "--set-status" in run(leads, "show", "--help").output
    assert "--status" not in run(schemes, "list", "--help").output
    assert "--follow" not in run(leads, "--help").output  # the old options are hidden
