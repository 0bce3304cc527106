"""The ``hub`` command line.

User mistakes end with one clear line on stderr and a non-zero exit, never a
traceback. ``HUB_DATA_DIR`` and ``HUB_DATABASE_URL`` say where the data is.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy import select

from hub import __version__
from hub.accounts.scopes import DEFAULT_SCOPE, SCOPES
from hub.cli import output
from hub.cli.customers import customers
from hub.cli.plugins import plugin, plugins
from hub.core.exceptions import HubError
from hub.core.lifecycle import STATUSES
from hub.core.status import FINANCIAL_STATUSES, FULFILLMENT_STATUSES
from hub.orders import commands, records
from hub.orders.queries import SORTS as ORDER_SORTS
from hub.store import migrate
from hub.store.files import UMASK
from hub.store.models import JobStatus, Order

log = logging.getLogger("hub")

_Value = TypeVar("_Value")


class HubGroup(click.Group):
    """Turns the hub's own errors into one line and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HubError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for key, value in (exc.details or {}).items():
                if key not in ("order", "status", "event", "allowed"):
                    click.echo(f"  {key}: {value}", err=True)
            ctx.exit(1)


def _hub(ctx: click.Context):
    """The Hub for this command, built once and closed when the command ends."""
    obj = ctx.ensure_object(dict)
    if "hub" not in obj:
        from hub.runtime.hub import Hub

        hub = Hub.from_env()
        obj["hub"] = hub
        ctx.call_on_close(hub.close)
    return obj["hub"]


def _ready_hub(ctx: click.Context):
    """The Hub with its database schema brought up to date."""
    hub = _hub(ctx)
    migrate.upgrade(hub.db)
    return hub


@contextmanager
def _api_context(hub) -> Iterator[None]:
    """A request context of the hub's web app: the API's objects name URLs (a webhook URL)."""
    from hub.web import create_app

    with create_app({"HUB": hub}).test_request_context():
        yield


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group(cls=HubGroup)
@click.version_option(__version__, prog_name="hub")
@click.option(
    "--log-level",
    default="WARNING",
    envvar="HUB_LOG_LEVEL",
    show_default=True,
    help="DEBUG, INFO, WARNING or ERROR.",
)
def main(log_level: str) -> None:
    """hub — the order hub between your sales channels and everything after checkout."""
    # The database, its WAL, exported files: whatever the hub writes is its user's alone.
    os.umask(UMASK)
    _setup_logging(log_level)


# --- set-up -----------------------------------------------------------------------


@main.command()
@click.option("--admin-email", help="Email of the admin user (asked for on a terminal).")
@click.option("--admin-password", help="Password of the admin user (asked for on a terminal).")
@click.pass_context
def init(ctx, admin_email, admin_password):
    """Create the data dir and database, the manual channel and the admin user. Safe to re-run."""
    from hub.accounts.users import set_admin
    from hub.channels.manage import ensure_manual_channel

    hub = _ready_hub(ctx)
    interactive = sys.stdin.isatty()
    if admin_email is None and interactive:
        admin_email = click.prompt("Admin email")
    if admin_email and admin_password is None and interactive:
        admin_password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    with hub.db.transaction() as session:
        ensure_manual_channel(hub, session)
        if admin_email:
            if not admin_password:
                raise click.UsageError("--admin-password is needed with --admin-email")
            user, created = set_admin(session, admin_email, admin_password)
            click.echo(f"admin {user.email} {'created' if created else 'updated'}")
    click.echo(f"hub is ready: data in {hub.settings.data_dir}")
    if hub.settings.is_sqlite:
        click.echo(f"database: {hub.settings.database_url}")


@main.group()
def db():
    """The database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Apply pending migrations."""
    hub = _hub(ctx)
    applied = migrate.upgrade(hub.db)
    click.echo(f"applied {len(applied)} migration(s); at {migrate.current_revision(hub.db)}")


# --- running ---------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--threads",
    default=16,
    show_default=True,
    type=int,
    help="Web request threads. Webhooks that arrive together are stored in one commit: "
    "more threads, bigger and fewer commits.",
)
@click.option(
    "--workers",
    "worker_threads",
    default=2,
    show_default=True,
    type=int,
    help="Job worker threads (0: run no worker here).",
)
@click.option("--no-scheduler", is_flag=True, help="Run no scheduler here.")
@click.pass_context
def serve(ctx, host, port, threads, worker_threads, no_scheduler):
    """Serve the web app, and run a worker and a scheduler in the same process."""
    from hub.channels.manage import ensure_manual_channel
    from hub.queue.jobs import Worker
    from hub.queue.scheduler import Scheduler
    from hub.routing.geocode import warm_up_in_background
    from hub.web import create_app
    from hub.web.serving import make_server

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        ensure_manual_channel(hub, session)
    warm_up_in_background()  # orders coming in are placed with tables built already
    app = create_app({"HUB": hub})
    worker = Worker(hub, concurrency=worker_threads) if worker_threads else None
    scheduler = None if no_scheduler else Scheduler(hub)
    worker_thread = None
    if worker:
        worker_thread = threading.Thread(target=worker.run_forever, name="worker")
        worker_thread.start()
    if scheduler:
        scheduler.start()
    server = make_server(app, host=host, port=port, threads=threads)
    click.echo(f"hub serving on http://{server.effective_host}:{server.effective_port}", err=True)
    _raise_on_sigterm()
    try:
        server.run()  # waitress returns from here on SIGINT/SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping: running jobs finish first", err=True)
        if worker:
            worker.stop()
        if worker_thread is not None:
            worker_thread.join()
        if scheduler:
            scheduler.shutdown()
        server.close()


@main.command()
@click.option(
    "--concurrency", default=1, show_default=True, type=int, help="Threads claiming jobs."
)
@click.option("--until-idle", is_flag=True, help="Run the due jobs, then exit.")
@click.option("--kind", "kinds", multiple=True, help="Run only jobs of this kind (repeatable).")
@click.pass_context
def worker(ctx, concurrency, until_idle, kinds):
    """Claim and run jobs until stopped (SIGTERM: running jobs finish first)."""
    from hub.queue.jobs import Worker
    from hub.routing.geocode import warm_up_in_background

    hub = _ready_hub(ctx)
    w = Worker(hub, concurrency=concurrency, kinds=tuple(kinds) or None)
    if until_idle:
        ran = w.run_until_idle()
        click.echo(f"ran {ran} job(s)")
        return
    _stop_on_signals(w.stop)
    warm_up_in_background()  # pulled orders are placed with tables built already
    click.echo(f"worker {w.name} started", err=True)
    w.run_forever()
    click.echo(f"worker {w.name} stopped", err=True)


@main.command()
@click.pass_context
def scheduler(ctx):
    """Enqueue periodic jobs on time (run two for safety: they never double the work)."""
    from hub.queue.scheduler import Scheduler

    hub = _ready_hub(ctx)
    s = Scheduler(hub)
    _stop_on_signals(s.stop)
    click.echo("scheduler started", err=True)
    s.run_forever()
    click.echo("scheduler stopped", err=True)


def _stop_on_signals(stop) -> None:
    def handler(signum, frame):
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _raise_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --- plugins and channels -----------------------------------------------------------------


main.add_command(plugins)
main.add_command(plugin)
main.add_command(customers)


@main.group()
def channels():
    """Configured channels."""


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, as the API shows each item.")
@click.pass_context
def channels_list(ctx, as_json):
    """List channels: a table on a terminal, tab-separated in a pipe, or --json."""
    from hub.store.models import Channel

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        found = list(session.scalars(select(Channel).order_by(Channel.id)))
        if as_json:
            with _api_context(hub):
                from hub.web.api import channel_json

                output.print_json([channel_json(ch) for ch in found])
        else:
            output.print_rows(output.CHANNEL_COLUMNS, found, nothing="no channels")


@channels.command("add")
@click.option("--name", required=True)
@click.option("--connector", required=True)
@click.option("--config", "config_json", default="{}", help="Config as a JSON object.")
@click.option("--slug")
@click.pass_context
def channels_add(ctx, name, connector, config_json, slug):
    """Add a channel; its config is checked by the connector's schema."""
    from hub.channels.manage import create_channel

    hub = _ready_hub(ctx)
    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--config") from None
    if not isinstance(config, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--config")
    with hub.db.transaction() as session:
        ch = create_channel(hub, session, name=name, connector=connector, config=config, slug=slug)
        click.echo(f"channel {ch.slug} created (id {ch.id})")


# --- orders --------------------------------------------------------------------------------


@main.group()
def orders():
    """Orders: list, show, create, transition."""


@orders.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, as the API shows each item.")
@click.option("--status", type=click.Choice(STATUSES), help="Only orders in this status.")
@click.option("--channel", help="Only this channel's orders (its slug).")
@click.option(
    "--financial-status", type=click.Choice(FINANCIAL_STATUSES), help="Only this payment status."
)
@click.option(
    "--fulfillment-status",
    type=click.Choice(FULFILLMENT_STATUSES),
    help="Only this fulfilment status.",
)
@click.option(
    "-q",
    "--q",
    "--search",
    "q",
    help="Search (any case, part of): order number, channel's order id, email, customer name, "
    "SKU, tracking number, payment reference.",
)
@click.option(
    "--updated-since",
    type=click.DateTime(),
    help="Only orders changed at or after this time (UTC).",
)
@click.option(
    "--placed-from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only orders placed on or after this day (UTC).",
)
@click.option(
    "--placed-to",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only orders placed on or before this day (UTC).",
)
@click.option("--hold-reason", help="Only orders held for this reason (its code).")
@click.option(
    "--sort",
    type=click.Choice(ORDER_SORTS),
    default="-placed",
    show_default=True,
    help="Sort by a column; a leading - sorts descending (ties by id).",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def orders_list(
    ctx: click.Context,
    as_json: bool,
    status: str | None,
    channel: str | None,
    financial_status: str | None,
    fulfillment_status: str | None,
    q: str | None,
    updated_since: datetime | None,
    placed_from: datetime | None,
    placed_to: datetime | None,
    hold_reason: str | None,
    sort: str,
    limit: int,
) -> None:
    """List the newest orders, filtered and sorted as the API and the admin UI do."""
    from hub.orders.queries import OrderFilters, search_orders
    from hub.orders.serialize import order_summary

    filters = OrderFilters(
        status=status,
        channel=channel,
        financial_status=financial_status,
        fulfillment_status=fulfillment_status,
        q=q,
        updated_since=updated_since.replace(tzinfo=UTC) if updated_since else None,
        placed_from=placed_from.date() if placed_from else None,
        placed_to=placed_to.date() if placed_to else None,
        hold_reason=hold_reason,
    )
    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        rows = search_orders(session, filters, limit=limit, sort=sort).rows
        if as_json:
            output.print_json([order_summary(o) for o in rows])
        else:
            output.print_rows(output.ORDER_COLUMNS, rows, nothing="no orders")


@orders.command("show")
@click.argument("order_id", type=int)
@click.pass_context
def orders_show(ctx, order_id):
    """Show one order with its lines, payments, shipments and events, as JSON."""
    from hub.orders.serialize import order_detail

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        order = session.scalars(records.order_query().where(Order.id == order_id)).one_or_none()
        if order is None:
            raise HubError(f"order {order_id} does not exist")
        # Names and addresses as people write them ("Müller"), not as \u escapes.
        click.echo(json.dumps(order_detail(order), indent=2, ensure_ascii=False))


@orders.command("create")
@click.option(
    "--file",
    "path",
    type=click.File("r"),
    default="-",
    show_default=True,
    help="The order as JSON, in the shape of POST /api/v1/orders.",
)
@click.pass_context
def orders_create(ctx, path):
    """Create a manual order from JSON."""
    from marshmallow import ValidationError as SchemaError

    from hub.channels.manage import ensure_manual_channel
    from hub.orders.manual import create_manual_order
    from hub.orders.schemas import ManualOrderSchema
    from hub.routing.geocode import geocoder_for

    hub = _ready_hub(ctx)
    try:
        raw = json.load(path)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--file") from None
    try:
        data = ManualOrderSchema().load(raw)
    except SchemaError as exc:
        raise HubError("the order is not valid", details=exc.normalized_messages()) from None
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        result = create_manual_order(
            session, channel, data, actor="cli", geocoder=geocoder_for(hub)
        )
        click.echo(
            f"order {result.order.id} {result.order.number} "
            f"{'created' if result.created else 'already exists'}"
        )


@orders.command("place")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(min=1, max=10_000))
@click.pass_context
def orders_place(ctx, batch):
    """Place the shipping addresses not placed yet (orders from before, or a geocoder that failed).

    New orders are placed as they come in; this places the others, a batch per
    transaction, and counts them by how sure each place is.
    """
    from hub.routing.geocode import PRECISIONS, geocoder_for, place_unplaced

    hub = _ready_hub(ctx)
    counts = place_unplaced(hub.db, geocoder_for(hub), batch=batch)
    if not counts:
        click.echo("every order's address is placed already")
        return
    for precision in (*PRECISIONS, "not placed"):
        if counts[precision]:
            click.echo(f"{precision}\t{counts[precision]}")


@orders.command("transition")
@click.argument("order_id", type=int)
@click.argument("event")
@click.option("--reason", default="", help="Why (needed to hold).")
@click.pass_context
def orders_transition(ctx, order_id, event, reason):
    """Apply a life-cycle event: confirm, hold, release, cancel, ship …"""
    hub = _ready_hub(ctx)
    with hub.unit_of_work() as work:
        before = records.get_order(work.session, order_id).status
        order = commands.transition(work, order_id, event, actor="cli", reason=reason)
        after = order.status
    click.echo(
        f"order {order_id}: {before} -> {after}"
        if before != after
        else f"order {order_id}: already {after}"
    )


# --- jobs --------------------------------------------------------------------------------------


@main.group()
def jobs():
    """Durable jobs: list, retry."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, as the API shows each item.")
@click.option("--status", type=click.Choice([str(s) for s in JobStatus]))
@click.option("--kind", help="Only jobs of this kind (e.g. channel.pull).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def jobs_list(
    ctx: click.Context, as_json: bool, status: str | None, kind: str | None, limit: int
) -> None:
    """List jobs, newest first, and a count by status (on stderr)."""
    from hub.queue.jobs import STATUSES as JOB_STATUSES
    from hub.queue.queries import JobFilters, search_jobs, status_counts

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        counts = status_counts(session)
        click.echo("  ".join(f"{k}={counts.get(k, 0)}" for k in JOB_STATUSES), err=True)
        found = search_jobs(session, JobFilters(status=status, kind=kind), limit=limit)
        if as_json:
            from hub.web.api import job_json

            output.print_json([job_json(j) for j in found.rows])
        else:
            output.print_rows(output.JOB_COLUMNS, found.rows, nothing="no jobs")


@jobs.command("retry")
@click.argument("job_id", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Every dead job of --kind, not one job.")
@click.option("--kind", help="With --all: the kind of the dead jobs (e.g. notify).")
@click.option("--channel", "channel_id", type=int, help="With --all: only this channel's (its id).")
@click.pass_context
def jobs_retry(ctx, job_id, every, kind, channel_id):
    """Queue a failed or dead job (or, with --all --kind K, every dead K job) to run again now."""
    from hub.queue.jobs import retry, retry_dead

    if every == (job_id is not None):
        raise click.UsageError("give a JOB_ID, or --all with --kind")
    if every and not kind:
        raise click.UsageError("--all needs --kind: retry all works on one kind at a time")
    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        if every:
            queued = retry_dead(session, kind, channel_id)
        else:
            retry(session, job_id)
    if every:
        click.echo(f"{queued} dead {kind} job{'' if queued == 1 else 's'} queued")
    else:
        click.echo(f"job {job_id} queued")


@main.command()
@click.option(
    "--older-than-days",
    type=click.IntRange(min=0),
    help="Purge what finished this many days ago or earlier (default: HUB_RETENTION_DAYS).",
)
@click.pass_context
def purge(ctx, older_than_days):
    """Delete finished work past its retention: succeeded jobs, processed webhook
    events, attempts of delivered notifications. Orders and their history, dead
    letters and unfinished work stay."""
    from datetime import timedelta

    from hub.pipeline.retention import purge as purge_finished
    from hub.store.models import utcnow

    hub = _ready_hub(ctx)
    days = hub.settings.retention_days if older_than_days is None else older_than_days
    removed = purge_finished(hub, utcnow() - timedelta(days=days))
    for what, count in removed.items():
        click.echo(f"{what}: {count} removed")


# --- tokens --------------------------------------------------------------------------------------


@main.group()
def token():
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=str(DEFAULT_SCOPE),
    show_default=True,
    help="read: every GET; write: also orders, returns, stock, jobs, channel test/sync; "
    "admin: also setting channels up.",
)
@click.pass_context
def token_create(ctx, name, scope):
    """Create an API token; it is printed once, alone on the last line."""
    from hub.accounts.users import create_token

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        _, plain = create_token(session, name, scope=scope)
    click.echo(f"{scope} token {name!r} created; keep it now, it is not shown again:", err=True)
    click.echo(plain)


@token.command("list")
@click.pass_context
def token_list(ctx):
    """List the tokens: id, name, first characters, scope, last use, state."""
    from hub.accounts.users import list_tokens

    def when(value: datetime | None) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        for t in list_tokens(session):
            state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "active"
            click.echo(
                f"{t.id}\t{t.name}\t{t.prefix}…\t{t.scope}\tlast used {when(t.last_used_at)}\t{state}"
            )


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx, token_id):
    """Revoke a token: the API refuses it from now on."""
    from hub.accounts.users import revoke_token

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        token = revoke_token(session, token_id)
        name = token.name if token is not None else None
    if name is None:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} ({name!r}) revoked")


# --- locations, stock and returns --------------------------------------------------------------


def _person() -> str:
    """Who is acting from this terminal, for the audit trail."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (a container): still say where it came from
        return "cli"


def _pairs(
    option: str, values: tuple[str, ...], value_type: Callable[[str], _Value]
) -> dict[int, _Value]:
    out: dict[int, _Value] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isdigit() or not value.strip():
            raise click.BadParameter(f"{item!r} is not LINE_ID=VALUE", param_hint=option)
        try:
            out[int(key)] = value_type(value.strip())
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: {value!r} is not a whole number", param_hint=option
            ) from None
    return out


@main.group()
def locations():
    """Stock locations (warehouses, stores): routing ships from the highest priority first."""


@locations.command("add")
@click.argument("code")
@click.option("--name", default="", help="Display name (default: the code).")
@click.option("--priority", default=0, show_default=True, type=int, help="Higher ships first.")
@click.option("--inactive", is_flag=True, help="Keep its stock but route nothing to it.")
@click.pass_context
def locations_add(ctx, code, name, priority, inactive):
    """Add a location, or change one with this code."""
    from hub.inventory.levels import upsert_location

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        loc = upsert_location(session, code, name=name, priority=priority, active=not inactive)
        click.echo(
            f"location {loc.code} saved (priority {loc.priority}, "
            f"{'active' if loc.active else 'inactive'})"
        )


@locations.command("set")
@click.argument("code")
@click.option("--address1", help="Street and number.")
@click.option("--address2", help="A second address line.")
@click.option("--city")
@click.option("--zip", "zip_code", help="Postal code.")
@click.option("--province", "province_code", help="State or region code (CA, BY).")
@click.option("--country", "country_code", help="Two-letter country code (US, DE).")
@click.option("--lat", "latitude", type=float, help="Latitude in degrees (-90 to 90).")
@click.option("--lon", "longitude", type=float, help="Longitude in degrees (-180 to 180).")
@click.option("--clear-coordinates", is_flag=True, help="Forget the location's coordinates.")
@click.pass_context
def locations_set(ctx, code, clear_coordinates, **given):
    """Say where location CODE is: its address, and its coordinates for routing by distance.

    Without --lat and --lon, the address is placed by its postal code or town
    (`hub locations set WH-BER --city Berlin --zip 10115 --country DE`).
    """
    from hub.routing.places import set_location_place

    given["zip"] = given.pop("zip_code")
    changes = {k: v for k, v in given.items() if v is not None}
    if clear_coordinates:
        if "latitude" in changes or "longitude" in changes:
            raise click.UsageError("--clear-coordinates and --lat/--lon contradict each other")
        changes.update(latitude=None, longitude=None)
    if not changes:
        raise click.UsageError("say what to set: an address part, or --lat and --lon")
    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        outcome = set_location_place(session, code, changes)
        loc = outcome.location
        where = ", ".join(
            part
            for part in (loc.address1, f"{loc.zip} {loc.city}".strip(), loc.country_code)
            if part
        )
        at = (
            f"at {loc.latitude:.5f}, {loc.longitude:.5f}"
            if loc.latitude is not None and loc.longitude is not None
            else "no coordinates"
        )
        click.echo(f"location {loc.code}: {where or 'no address'}; {at} ({outcome.note})")


@locations.command("list")
@click.pass_context
def locations_list(ctx):
    """List locations, highest priority first, with where each is."""
    from hub.inventory.levels import list_locations

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        rows = list_locations(session)
        for loc in rows:
            at = (
                f"{loc.latitude:.5f},{loc.longitude:.5f}"
                if loc.latitude is not None and loc.longitude is not None
                else "not placed"
            )
            place = " ".join(part for part in (loc.city, loc.country_code) if part)
            click.echo(
                f"{loc.code}\t{loc.priority}\t{'active' if loc.active else 'inactive'}\t{loc.name}"
                f"\t{place or '-'}\t{at}"
            )
        if not rows:
            click.echo("no locations: stock is not tracked", err=True)


@main.group()
def stock():
    """Stock levels per SKU and location: on hand, reserved, available."""


@stock.command("set")
@click.argument("sku")
@click.argument("location")
@click.argument("on_hand", type=click.IntRange(min=0))
@click.option("--reason", default="", help="Why (kept in the stock movements).")
@click.pass_context
def stock_set(ctx, sku, location, on_hand, reason):
    """Set what is on hand of SKU at LOCATION."""
    from hub.inventory.levels import LevelChange, list_levels, set_on_hand
    from hub.inventory.queries import LevelFilters

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        changed = set_on_hand(
            session,
            [LevelChange(sku, location, on_hand)],
            actor=_person(),
            reason=reason or "set from the command line",
            source="cli",
        )
        level = list_levels(session, LevelFilters(sku=sku, location=location))[0]
    click.echo(
        f"{sku} at {location}: on hand {level.on_hand}, reserved {level.reserved}, "
        f"available {level.available}" + ("" if changed else " (unchanged)")
    )


@stock.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("sku")
@click.argument("location")
@click.argument("delta", type=int)
@click.option("--reason", default="", help="Why (kept in the stock movements).")
@click.pass_context
def stock_adjust(ctx, sku, location, delta, reason):
    """Add DELTA to what is on hand (negative removes), e.g. `hub stock adjust SKU WH1 -2`."""
    from hub.inventory.levels import adjust_on_hand

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        level = adjust_on_hand(
            session,
            sku,
            location,
            delta,
            actor=_person(),
            reason=reason or "adjusted from the command line",
            source="cli",
        )
        click.echo(
            f"{sku} at {location}: on hand {level.on_hand}, reserved {level.reserved}, "
            f"available {level.available}"
        )


@stock.command("list")
@click.option("--sku", help="Only this SKU.")
@click.option(
    "--search", "q", help="Only SKUs containing this text (any case), as the admin's search."
)
@click.option("--location", help="Only this location code.")
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, as the API shows each item.")
@click.pass_context
def stock_list(ctx, sku, q, location, limit, as_json):
    """List levels: SKU, location, on hand, reserved, available."""
    from hub.inventory.levels import list_levels
    from hub.inventory.queries import LevelFilters, levels_statement
    from hub.store.models import Location, StockLevel

    filters = LevelFilters(sku=sku, q=q, location=location)
    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        if as_json:  # the API's objects, in the list's order
            from hub.purchasing.queries import with_incoming
            from hub.web.api import level_json

            query = levels_statement(session, filters).order_by(StockLevel.sku, Location.code)
            levels = [level_json(lv) for lv in session.scalars(query.limit(limit))]
            output.print_json(with_incoming(session, levels))
            return
        rows = list_levels(session, filters, limit=limit)
    output.print_rows(output.LEVEL_COLUMNS, rows, nothing="no stock levels")


@stock.command("movements")
@click.option("--sku", help="Only this SKU.")
@click.option("--location", help="Only this location code.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.pass_context
def stock_movements(ctx, sku, location, limit):
    """The stock audit trail, newest first: what changed, who, why, from where."""
    from hub.inventory.levels import movements

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        for m in movements(session, sku=sku, location=location, limit=limit):
            click.echo(
                f"{m.created_at:%Y-%m-%d %H:%M:%S}\t{m.sku}\ton_hand {m.on_hand_change:+d}"
                f"\treserved {m.reserved_change:+d}\t{m.actor}\t{m.source}\t{m.reason}"
            )


@main.group()
def returns():
    """Returns: create, approve, reject, receive, refund."""


@returns.command("create")
@click.argument("order_id", type=int)
@click.option(
    "--line",
    "lines",
    multiple=True,
    required=True,
    metavar="LINE_ID=QTY",
    help="An order line and how many come back (repeatable).",
)
@click.option("--reason", required=True, help="Why the customer returns it.")
@click.option("--note", default="")
@click.option("--refund-shipping", is_flag=True, help="Give back the order's shipping too.")
@click.option("--restock", "restock", default=None, help="Location the goods go back to.")
@click.option("--write-off", is_flag=True, help="The goods are not restocked.")
@click.option("--amount", default=None, help='Refund this instead of the lines\' worth ("12.50").')
@click.pass_context
def returns_create(ctx, order_id, lines, reason, note, refund_shipping, restock, write_off, amount):
    """Open a return for shipped units of ORDER_ID."""
    from marshmallow import ValidationError as SchemaError

    from hub.returns.actions import create_return
    from hub.returns.schemas import ReturnCreateSchema

    raw = {
        "lines": [
            {"line_id": k, "quantity": v, "restock_location": restock, "write_off": write_off}
            for k, v in _pairs("--line", lines, int).items()
        ],
        "reason": reason,
        "note": note,
        "refund_shipping": refund_shipping,
        "refund_amount": amount,
    }
    try:
        request = ReturnCreateSchema().load(raw)
    except SchemaError as exc:
        raise HubError("the return is not valid", details=exc.normalized_messages()) from None
    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        ret = create_return(session, order_id, request, actor=_person())
        click.echo(
            f"return {ret.id} requested for order {order_id}: refund "
            f"{_amount(ret.refund_amount + ret.shipping_refund, ret.currency)}"
        )


def _amount(minor: int, currency: str) -> str:
    from hub.orders.serialize import money

    return f"{money(minor, currency)} {currency}"


@returns.command("approve")
@click.argument("return_id", type=int)
@click.option("--note", default="")
@click.pass_context
def returns_approve(ctx, return_id, note):
    """Approve a requested return."""
    from hub.returns.actions import approve_return

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        approve_return(session, return_id, actor=_person(), note=note)
    click.echo(f"return {return_id} approved")


@returns.command("reject")
@click.argument("return_id", type=int)
@click.option("--reason", required=True)
@click.pass_context
def returns_reject(ctx, return_id, reason):
    """Reject a return that was not received."""
    from hub.returns.actions import reject_return

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        reject_return(session, return_id, actor=_person(), reason=reason)
    click.echo(f"return {return_id} rejected")


@returns.command("receive")
@click.argument("return_id", type=int)
@click.option("--location", help="Restock every line here (default: where it shipped from).")
@click.option("--write-off", is_flag=True, help="Write every line off instead of restocking.")
@click.option(
    "--line",
    "lines",
    multiple=True,
    metavar="LINE_ID=LOCATION|write_off",
    help="Where one line goes (repeatable).",
)
@click.pass_context
def returns_receive(ctx, return_id, location, write_off, lines):
    """Take a return's goods in: restock or write off."""
    from hub.returns.actions import receive_return

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        ret = receive_return(
            session,
            return_id,
            actor=_person(),
            location=location,
            write_off=write_off,
            lines=_pairs("--line", lines, str),
        )
        done = ", ".join(
            f"{rl.order_line.sku}×{rl.quantity} {rl.disposition}"
            + (f" at {rl.location.code}" if rl.location else "")
            for rl in ret.lines
        )
    click.echo(f"return {return_id} received: {done}")


@returns.command("refund")
@click.argument("return_id", type=int)
@click.option(
    "--amount",
    default=None,
    help="Refund this much, shipping included (default: the return's refund).",
)
@click.pass_context
def returns_refund(ctx, return_id, amount):
    """Refund a received return through the order's payments."""
    from hub.core.money import Money
    from hub.returns.actions import get_return, refund_return

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        ret = get_return(session, return_id)
        minor = None if amount is None else Money.parse(amount, ret.currency).amount
        ret = refund_return(session, return_id, actor=_person(), amount=minor)
        click.echo(
            f"return {return_id} refunded: {_amount(ret.refunded_amount, ret.currency)} "
            f"(order now {ret.order.status})"
        )


@returns.command("list")
@click.option("--order", "order_id", type=int, help="Only this order's returns.")
@click.option(
    "--status", type=click.Choice(["requested", "approved", "received", "refunded", "rejected"])
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def returns_list(ctx: click.Context, order_id: int | None, status: str | None, limit: int) -> None:
    """List returns, newest first."""
    from hub.returns.queries import ReturnFilters, search_returns

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        filters = ReturnFilters(order_id=order_id, status=status)
        rows = search_returns(session, filters, limit=limit).rows
        for r in rows:
            click.echo(
                f"{r.id}\torder {r.order_id}\t{r.status}\t"
                f"{_amount(r.refund_amount + r.shipping_refund, r.currency)}\t{r.reason}"
            )
    if not rows:
        click.echo("no returns", err=True)


@returns.command("show")
@click.argument("return_id", type=int)
@click.pass_context
def returns_show(ctx, return_id):
    """Show one return as JSON."""
    from hub.returns.actions import return_detail
    from hub.store.models import Return

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        ret = session.get(Return, return_id)
        if ret is None:
            raise HubError(f"return {return_id} does not exist")
        click.echo(json.dumps(return_detail(ret), indent=2))


# --- demo ------------------------------------------------------------------------------------------


@main.command()
@click.option("--orders", "n_orders", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: a fresh temporary dir.")
@click.option("--exit", "exit_after", is_flag=True, help="Stop after the summary.")
@click.option("--port", default=0, type=int, help="Port for the hub's web app (0: any free one).")
@click.option(
    "--database-url",
    help="Run on this PostgreSQL database instead of SQLite. "
    "Its tables are EMPTIED first: never point it at a database you need.",
)
def demo(n_orders, data_dir, exit_after, port, database_url):
    """Run orders through the whole flow against sandboxes, print a summary, serve the admin UI.

    Two stores (Shopify, and WooCommerce taking one order in four), Stripe,
    ShipStation, an SMTP server and a CRM webhook endpoint run on loopback; the
    hub runs on an embedded SQLite in a fresh data dir. Exits 1 when an order
    did not ship or a job died.
    """
    from hub.demo.command import run_demo, succeeded

    summary = run_demo(
        n_orders=n_orders,
        data_dir=data_dir,
        exit_after=exit_after,
        port=port,
        database_url=database_url,
    )
    if not succeeded(summary):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
