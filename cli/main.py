"""The ``fundwatch`` command: registers every agent, page and command, then runs the app.

Faust's "Medium/Large Projects" layout with an explicit list instead of ``autodiscover``: the
modules below register themselves on ``streams.app.app`` when imported, so this is the one
place that knows them all, and ``streams.app`` imports none of them.
"""

from __future__ import annotations

import importlib
import sys

# Imported for their side effects, in this order: Faust's own commands first, so that ours
# replace a built-in of the same name (``fundwatch model`` is the project's model rollout,
# not Faust's record listing).
REGISTERING_MODULES = (
    "faust.cli.faust",
    # the worker: agents, timers and the metrics page
    "streams.agents",
    "streams.web",
    # the analysts' web console, by resource
    "console.pages",
    "console.leads",
    "console.scheme_api",
    "console.watchlist",
    "console.health",
    # the CLI's commands
    "cli.commands",
    "cli.lead_commands",
    "cli.casework_commands",
    "cli.acl",
    "cli.report",
    "cli.console_user",
)


def main() -> None:
    """Entry point of the ``fundwatch`` console command."""
    for module in REGISTERING_MODULES:
        importlib.import_module(module)

    from streams.app import app, settings

    if sys.argv[1:2] == ["worker"]:
        # Faust creates the data directory itself, but not its parents.
        settings.make_data_dir()
        # Create the topics before the consumer joins its group: a topic Faust creates while
        # joining is missing from the first assignment and only picked up minutes later.
        settings.topics.create_all()
    app.main()


if __name__ == "__main__":
    main()
