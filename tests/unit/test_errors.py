"""Every error fundwatch raises on purpose is a FundwatchError: the CLI and the console answer
it from its own exit code and HTTP status, without a hand-kept list of classes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest

from cli.commands import failing_clearly
from schemas.errors import BrokerUnavailableError, FundwatchError, NotFoundError

PACKAGES = ("schemas", "ingest", "models", "casework", "offline", "streams", "console", "cli")
PACKAGES += ("feeds",)


def fundwatch_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a module of fundwatch's packages."""
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == info.name:
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[name] for name in sorted(found)]


def test_every_error_class_is_a_fundwatch_error() -> None:
    classes = fundwatch_exceptions()
    assert len(classes) >= 20  # the walk found them, not none
    strays = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, FundwatchError)
    ]
    assert strays == []


def test_an_error_keeps_the_base_its_callers_catch() -> None:
    from casework.lead_status import StatusChangeError
    from models.watchlist import WatchlistError
    from schemas.errors import ReportRejected

    for cls in (StatusChangeError, WatchlistError, ReportRejected):
        assert issubclass(cls, ValueError)


@pytest.mark.parametrize(
    ("dotted", "exit_code", "http_status"),
    [
        ("casework.monthly_report.ReportError", 2, 400),
        ("casework.lead_status.StatusChangeError", 2, 409),
        ("console.auth.AuthError", 2, 503),  # the users file is unreadable
        ("models.leads.LeadStateError", 65, 500),
        ("schemas.errors.NotFoundError", 66, 404),
        ("schemas.errors.BrokerUnavailableError", 69, 503),
    ],
)
def test_each_error_says_how_it_is_answered(dotted: str, exit_code: int, http_status: int) -> None:
    module, name = dotted.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert (cls.exit_code, cls.http_status) == (exit_code, http_status)


def test_a_subclass_inherits_what_it_does_not_say() -> None:
    class NoSuchSchemeError(NotFoundError):
        pass

    assert (NoSuchSchemeError.exit_code, NoSuchSchemeError.http_status) == (66, 404)
    assert (FundwatchError.exit_code, FundwatchError.http_status) == (2, 400)
    assert BrokerUnavailableError("x").exit_code == 69


def test_options_refused_inside_a_command_get_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`fundwatch train --verdicts F` without --leads: click's UsageError, raised in the body
    of a Faust command, reaches the user as click would say it, not as a worker traceback."""
    with pytest.raises(SystemExit) as stopped, failing_clearly():
        raise click.UsageError("--verdicts and --leads go together")
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "Error: --verdicts and --leads go together\n"
