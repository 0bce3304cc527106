"""How the CLI's lists are printed: for people on a terminal, for scripts in a pipe.

- On a terminal: a table with headers (``rich``: it fits the terminal's width,
  wrapping long cells instead of breaking the lines).
- In a pipe or a file: tab-separated, a header line first, one row a line, so
  ``cut``, ``awk`` or a spreadsheet read it.
- With ``--json``: a JSON array of the objects the API answers with, for scripts.

An empty list prints nothing on stdout and says so on stderr, whichever the form.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Column:
    """One column: its header and how a row's cell is read (always text)."""

    header: str
    cell: Callable[[Any], str]
    #: Right-aligned on a terminal (amounts, counts).
    numeric: bool = False


def utc_minute(value: datetime | None) -> str:
    """A time as the lists show it, in UTC to the minute: ``2025-01-31 09:05``; empty for none."""
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def stdout_is_terminal() -> bool:
    """Whether a person reads stdout (tests replace this to see the table)."""
    return sys.stdout.isatty()


def render_table(columns: Sequence[Column], rows: Iterable[Any], *, width: int) -> str:
    """The rows as a table for a terminal ``width`` characters wide."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.header, justify="right" if column.numeric else "left")
    for row in rows:
        table.add_row(*(column.cell(row) for column in columns))
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, highlight=False).print(table)
    return buffer.getvalue()


def print_rows(columns: Sequence[Column], rows: Sequence[Any], *, nothing: str) -> None:
    """Print ``rows``: a table on a terminal, tab-separated with a header line otherwise."""
    if not rows:
        click.echo(nothing, err=True)
        return
    if stdout_is_terminal():
        width = shutil.get_terminal_size((100, 24)).columns
        click.echo(render_table(columns, rows, width=width), nl=False)
        return
    click.echo("\t".join(column.header for column in columns))
    for row in rows:
        # A tab or a newline inside a cell would shift or split the row.
        click.echo("\t".join(_one_line(column.cell(row)) for column in columns))


def print_json(items: Sequence[dict[str, Any]]) -> None:
    """Print ``items`` as one JSON array (names as written, not ``\\u`` escapes)."""
    click.echo(json.dumps(list(items), indent=2, ensure_ascii=False))


def _one_line(text: str) -> str:
    return " ".join(text.split("\t")).replace("\r", " ").replace("\n", " ⏎ ")


# --- the lists' columns ------------------------------------------------------------------------


def _money(order: Any) -> str:
    from hub.orders.serialize import money

    return f"{money(order.total, order.currency)} {order.currency}"


ORDER_COLUMNS = (
    Column("id", lambda o: str(o.id), numeric=True),
    Column("number", lambda o: o.number),
    Column("channel", lambda o: o.channel.slug if o.channel else ""),
    Column("status", lambda o: str(o.status)),
    Column("payment", lambda o: str(o.financial_status)),
    Column("fulfilment", lambda o: str(o.fulfillment_status)),
    Column("total", _money, numeric=True),
    Column("placed (UTC)", lambda o: utc_minute(o.placed_at)),
)

JOB_COLUMNS = (
    Column("id", lambda j: str(j.id), numeric=True),
    Column("kind", lambda j: j.kind),
    Column("status", lambda j: str(j.status)),
    Column("attempts", lambda j: f"{j.attempts}/{j.max_attempts}", numeric=True),
    Column("channel", lambda j: "" if j.channel_id is None else str(j.channel_id)),
    Column("order", lambda j: "" if j.order_id is None else str(j.order_id)),
    Column("updated (UTC)", lambda j: utc_minute(j.updated_at)),
    Column("last error", lambda j: (j.last_error or "").strip()),
)

LEVEL_COLUMNS = (
    Column("sku", lambda lv: lv.sku),
    Column("location", lambda lv: lv.location_code),
    Column("on hand", lambda lv: str(lv.on_hand), numeric=True),
    Column("reserved", lambda lv: str(lv.reserved), numeric=True),
    Column("available", lambda lv: str(lv.available), numeric=True),
)

CHANNEL_COLUMNS = (
    Column("id", lambda c: str(c.id), numeric=True),
    Column("slug", lambda c: c.slug),
    Column("connector", lambda c: c.connector),
    Column("state", lambda c: "enabled" if c.enabled else "disabled"),
    Column("name", lambda c: c.name),
    Column("last sync (UTC)", lambda c: utc_minute(c.last_sync_at)),
    Column("last error", lambda c: (c.last_error or "").strip()),
)
