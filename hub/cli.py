"""The ``hub`` command line.

User mistakes end with one clear line on stderr and a non-zero exit, never a
traceback. ``HUB_DATA_DIR`` and ``HUB_DATABASE_URL`` say where the data is.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click
from sqlalchemy import func, select

from . import __version__, actions, migrate
from .core.exceptions import HubError
from .models import Job, Order

log = logging.getLogger("hub")


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
        from .runtime import Hub

        hub = Hub.from_env()
        obj["hub"] = hub
        ctx.call_on_close(hub.close)
    return obj["hub"]


def _ready_hub(ctx: click.Context):
    """The Hub with its database schema brought up to date."""
    hub = _hub(ctx)
    migrate.upgrade(hub.db)
    return hub


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group(cls=HubGroup)
@click.version_option(__version__, prog_name="hub")
@click.option("--log-level", default="WARNING", envvar="HUB_LOG_LEVEL", show_default=True,
              help="DEBUG, INFO, WARNING or ERROR.")
def main(log_level: str) -> None:
    """hub — the order hub between your sales channels and everything after checkout."""
    _setup_logging(log_level)


# --- set-up -----------------------------------------------------------------------


@main.command()
@click.option("--admin-email", help="Email of the admin user (asked for on a terminal).")
@click.option("--admin-password", help="Password of the admin user (asked for on a terminal).")
@click.pass_context
def init(ctx, admin_email, admin_password):
    """Create the data dir and database, the manual channel and the admin user. Safe to re-run."""
    from .accounts import set_admin
    from .channels import ensure_manual_channel

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
@click.option("--threads", default=8, show_default=True, type=int, help="Web request threads.")
@click.option("--workers", "worker_threads", default=2, show_default=True, type=int,
              help="Job worker threads (0: run no worker here).")
@click.option("--no-scheduler", is_flag=True, help="Run no scheduler here.")
@click.pass_context
def serve(ctx, host, port, threads, worker_threads, no_scheduler):
    """Serve the web app, and run a worker and a scheduler in the same process."""
    from waitress import create_server

    from .channels import ensure_manual_channel
    from .jobs import Worker
    from .scheduler import Scheduler
    from .web import create_app

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        ensure_manual_channel(hub, session)
    app = create_app({"HUB": hub})
    worker = Worker(hub, concurrency=worker_threads) if worker_threads else None
    scheduler = None if no_scheduler else Scheduler(hub)
    worker_thread = None
    if worker:
        worker_thread = threading.Thread(target=worker.run_forever, name="worker")
        worker_thread.start()
    if scheduler:
        scheduler.start()
    server = create_server(app, host=host, port=port, threads=threads, ident="hub")
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
            worker_thread.join()
        if scheduler:
            scheduler.shutdown()
        server.close()


@main.command()
@click.option("--concurrency", default=1, show_default=True, type=int, help="Threads claiming jobs.")
@click.option("--until-idle", is_flag=True, help="Run the due jobs, then exit.")
@click.option("--kind", "kinds", multiple=True, help="Run only jobs of this kind (repeatable).")
@click.pass_context
def worker(ctx, concurrency, until_idle, kinds):
    """Claim and run jobs until stopped (SIGTERM: running jobs finish first)."""
    from .jobs import Worker

    hub = _ready_hub(ctx)
    w = Worker(hub, concurrency=concurrency, kinds=tuple(kinds) or None)
    if until_idle:
        ran = w.run_until_idle()
        click.echo(f"ran {ran} job(s)")
        return
    _stop_on_signals(w.stop)
    click.echo(f"worker {w.name} started", err=True)
    w.run_forever()
    click.echo(f"worker {w.name} stopped", err=True)


@main.command()
@click.pass_context
def scheduler(ctx):
    """Enqueue periodic jobs on time (run two for safety: they never double the work)."""
    from .scheduler import Scheduler

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


@main.command()
@click.pass_context
def plugins(ctx):
    """List plugins, their versions, connectors and roles."""
    from .plugins import plugin_version

    hub = _hub(ctx)
    by_plugin: dict[str, list] = {}
    for impl in hub.pm.hook.hub_register_connectors.get_hookimpls():
        by_plugin[impl.plugin_name] = impl.function() or []
    for name, plugin in sorted(hub.pm.list_name_plugin()):
        click.echo(f"{name} {plugin_version(plugin)}")
        for cls in by_plugin.get(name, []):
            click.echo(f"  connector {cls.name}: {', '.join(cls.roles)} — {cls.label or cls.__doc__ or ''}".rstrip(" —"))


@main.group()
def channels():
    """Configured channels."""


@channels.command("list")
@click.pass_context
def channels_list(ctx):
    """List channels."""
    from .models import Channel

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        for ch in session.scalars(select(Channel).order_by(Channel.id)):
            state = "enabled" if ch.enabled else "disabled"
            click.echo(f"{ch.id}\t{ch.slug}\t{ch.connector}\t{state}\t{ch.name}")


@channels.command("add")
@click.option("--name", required=True)
@click.option("--connector", required=True)
@click.option("--config", "config_json", default="{}", help="Config as a JSON object.")
@click.option("--slug")
@click.pass_context
def channels_add(ctx, name, connector, config_json, slug):
    """Add a channel; its config is checked by the connector's schema."""
    from .channels import create_channel

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
@click.option("--status", help="Only orders in this status.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.pass_context
def orders_list(ctx, status, limit):
    """List the newest orders."""
    from .serialize import money

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        query = select(Order).order_by(Order.id.desc()).limit(limit)
        if status:
            query = query.where(Order.status == status)
        rows = session.scalars(query).all()
        for o in rows:
            click.echo(f"{o.id}\t{o.number}\t{o.channel.slug}\t{o.status}\t{o.financial_status}"
                       f"\t{o.fulfillment_status}\t{money(o.total, o.currency)} {o.currency}")
        if not rows:
            click.echo("no orders", err=True)


@orders.command("show")
@click.argument("order_id", type=int)
@click.pass_context
def orders_show(ctx, order_id):
    """Show one order with its lines, payments, shipments and events, as JSON."""
    from .serialize import order_detail

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        order = session.scalars(actions.order_query().where(Order.id == order_id)).one_or_none()
        if order is None:
            raise HubError(f"order {order_id} does not exist")
        click.echo(json.dumps(order_detail(order), indent=2))


@orders.command("create")
@click.option("--file", "path", type=click.File("r"), default="-", show_default=True,
              help="The order as JSON, in the shape of POST /api/v1/orders.")
@click.pass_context
def orders_create(ctx, path):
    """Create a manual order from JSON."""
    from marshmallow import ValidationError as SchemaError

    from .channels import ensure_manual_channel
    from .schemas import ManualOrderSchema

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
        result = actions.upsert_order(session, channel, data, actor="cli")
        click.echo(f"order {result.order.id} {result.order.number} "
                   f"{'created' if result.created else 'already exists'}")


@orders.command("transition")
@click.argument("order_id", type=int)
@click.argument("event")
@click.option("--reason", default="", help="Why (needed to hold).")
@click.pass_context
def orders_transition(ctx, order_id, event, reason):
    """Apply a life-cycle event: confirm, hold, release, cancel, ship …"""
    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        before = actions.get_order(session, order_id).status
        order = actions.transition(session, order_id, event, actor="cli", reason=reason)
        after = order.status
    click.echo(f"order {order_id}: {before} -> {after}" if before != after
               else f"order {order_id}: already {after}")


# --- jobs --------------------------------------------------------------------------------------


@main.group()
def jobs():
    """Durable jobs: list, retry."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed", "dead"]))
@click.option("--limit", default=50, show_default=True, type=int)
@click.pass_context
def jobs_list(ctx, status, limit):
    """List jobs, newest first, and a count by status."""
    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        click.echo("  ".join(f"{k}={counts.get(k, 0)}" for k in
                             ("queued", "running", "succeeded", "failed", "dead")), err=True)
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        for j in session.scalars(query):
            error = f"\t{j.last_error}" if j.last_error else ""
            click.echo(f"{j.id}\t{j.kind}\t{j.status}\tattempts={j.attempts}/{j.max_attempts}{error}")


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_retry(ctx, job_id):
    """Queue a failed or dead job to run again now."""
    from .jobs import retry

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        retry(session, job_id)
    click.echo(f"job {job_id} queued")


# --- tokens --------------------------------------------------------------------------------------


@main.group()
def token():
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.pass_context
def token_create(ctx, name):
    """Create an API token; it is printed once, alone on the last line."""
    from .accounts import create_token

    hub = _ready_hub(ctx)
    with hub.db.transaction() as session:
        _, plain = create_token(session, name)
    click.echo(f"token {name!r} created; keep it now, it is not shown again:", err=True)
    click.echo(plain)


# --- demo ------------------------------------------------------------------------------------------


@main.command()
@click.option("--orders", "n_orders", default=200, show_default=True, type=int)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: a fresh temporary dir.")
@click.option("--exit", "exit_after", is_flag=True, help="Stop after the summary.")
@click.option("--port", default=0, type=int, help="Port for the admin UI (0: any free one).")
def demo(n_orders, data_dir, exit_after, port):
    """Run orders through the whole flow on an embedded SQLite and print a summary."""
    from .demo import run_demo

    run_demo(n_orders=n_orders, data_dir=data_dir, exit_after=exit_after, port=port)


if __name__ == "__main__":  # pragma: no cover
    main()
