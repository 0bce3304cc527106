"""``hub plugins`` (what is installed) and ``hub plugin new`` (start a plugin from the scaffold)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import click

from hub.core.exceptions import ValidationError
from hub.integration.connectors import ROLES
from hub.runtime.plugins import PluginListing, list_plugins


def _installed() -> list[PluginListing]:
    # The plugin manager alone: listing plugins needs no data folder and no database.
    from hub.integration.manager import get_plugin_manager

    return list_plugins(get_plugin_manager())


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def plugins(as_json: bool) -> None:
    """List plugins: versions, connectors with roles, hooks, job kinds, periodic jobs."""
    listing = _installed()
    if as_json:
        click.echo(json.dumps([p.to_json() for p in listing], indent=2))
        return
    for line in table(listing):
        click.echo(line)


def table(listing: list[PluginListing]) -> list[str]:
    """The listing as lines a person reads in a terminal."""
    lines: list[str] = []
    for p in listing:
        origin = f"{p.source} of {p.distribution}" if p.distribution else p.source
        lines.append(f"{p.name} {p.version} ({origin}: {p.module})")
        for c in p.connectors:
            lines.append(f"  connector {c.name}: {', '.join(c.roles)} — {c.label}".rstrip(" —"))
            if c.capabilities:
                lines.append(f"    capabilities: {', '.join(c.capabilities)}")
            for kind, seconds in c.scheduled_jobs.items():
                lines.append(f"    every channel: {kind} every {seconds}s")
        lines.append(f"  hooks: {', '.join(p.hooks) or 'none'}")
        if p.job_kinds:
            lines.append(f"  job kinds: {', '.join(p.job_kinds)}")
        for job in p.periodic_jobs:
            lines.append(f"  periodic: {job.kind} every {job.every_seconds}s")
        if p.sandboxes:
            lines.append(f"  sandboxes: {', '.join(p.sandboxes)}")
        for error in p.errors:
            lines.append(f"  error: {error}")
    return lines


@click.group("plugin")
def plugin() -> None:
    """Write plugins."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The folder to write the package folder NAME into.",
)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="sales",
    show_default=True,
    help="Its connector's role.",
)
def plugin_new(name: str, parent: Path, role: str) -> None:
    """Write an installable plugin package NAME with a working connector, sandbox and tests."""
    from hub.cli import scaffold

    started = time.perf_counter()
    names = scaffold.plugin_names(name, role)
    listing = _installed()
    scaffold.refuse_clash(
        names,
        {
            "plugin": {p.name for p in listing},
            "connector": {c.name for p in listing for c in p.connectors},
        },
    )
    if importlib.util.find_spec(names.module) is not None:
        raise ValidationError(
            f"{names.module!r} is already installed as a module: choose another name"
        )
    target = parent / name
    written = scaffold.write_plugin(names, target)
    click.echo(
        f"wrote {names.dist} ({role} connector {names.name!r}, {len(written)} files) "
        f"to {target} in {time.perf_counter() - started:.2f}s"
    )
    click.echo("next:")
    click.echo(f"  pip install -e {target}")
    click.echo(f"  pytest {target}")
    click.echo(f"  then read {target / 'README.md'}: what to change for your service")
