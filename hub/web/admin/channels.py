"""Channels: list, add (choose a connector, then its generated form), edit, test, sync, enable.

Creating and changing go through :mod:`hub.channels.manage`, where the connector's
schema validates the config and secret fields are encrypted. No page ever
contains a secret's value: secret inputs are empty, "leave blank to keep".
"""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.channels import manage as channel_service
from hub.channels import subscriptions
from hub.core.exceptions import HubError, ValidationError
from hub.core.invoicing import IssueOn
from hub.integration.connectors import Capability, Connector, can
from hub.invoicing import policy as invoice_policy
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.returns import policy as return_policy
from hub.routing import strategies
from hub.store.models import Channel, Job, JobStatus, utcnow
from hub.web import forms, get_hub
from hub.web.admin import bp
from hub.web.admin.channel_returns import EXCHANGE_CHOICES
from hub.web.admin.channel_routing import STRATEGY_CHOICES
from hub.web.admin.helpers import flash_error, safe_next

log = logging.getLogger(__name__)

PULL_JOB = JobKind.CHANNEL_PULL
MIN_SCHEDULE_SECONDS = 10


def pulls(cls: type[Connector]) -> bool:
    """Whether channels of this connector pull orders (and so can "sync now")."""
    return PULL_JOB in cls.scheduled_jobs


def takes_webhooks(cls: type[Connector]) -> bool:
    return can(cls, Capability.WEBHOOKS)


def webhook_url(slug: str) -> str:
    return f"{request.host_url.rstrip('/')}/webhooks/{slug}"


def _connector_or_404(name: str) -> type[Connector]:
    cls = get_hub().connectors.get(name)
    if cls is None:
        abort(404)
    return cls


def _channel_or_404(db, channel_id: int) -> Channel:
    channel = db.get(Channel, channel_id)
    if channel is None:
        abort(404)
    return channel


def _schedule(raw: str, errors: dict) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < MIN_SCHEDULE_SECONDS:
        errors["schedule_seconds"] = [
            f"Whole seconds, at least {MIN_SCHEDULE_SECONDS}; blank for the connector's default."
        ]
        return None
    return int(raw)


def _field_errors(exc: HubError, errors: dict) -> None:
    """A refusal's messages on the form: a name's next to the name, the rest on the config."""
    details = dict(exc.details or {})
    if "name" in details:
        errors["name"] = details.pop("name")
    if details or "name" not in errors:
        errors["config"] = details
        flash(exc.message, "error")


def _stored_secrets(cls: type[Connector], channel: Channel) -> frozenset[str]:
    return frozenset(
        k for k in cls.secret_fields() if (channel.config or {}).get(k) not in (None, "")
    )


# --- list -------------------------------------------------------------------------------


@bp.get("/channels")
def channels():
    hub = get_hub()
    with hub.db.read() as db:
        rows = list(db.scalars(select(Channel).order_by(Channel.name)))
        return render_template(
            "admin/channels.html",
            channels=rows,
            connectors=hub.connectors,
            pulls=pulls,
            takes_webhooks=takes_webhooks,
            webhook_url=webhook_url,
        )


# --- add ----------------------------------------------------------------------------------


@bp.get("/channels/new")
def channel_choose():
    connectors = sorted(get_hub().connectors.values(), key=lambda c: (c.label or c.name).lower())
    return render_template("admin/channel_choose.html", connectors=connectors)


@bp.route("/channels/new/<connector>", methods=["GET", "POST"])
def channel_new(connector: str):
    cls = _connector_or_404(connector)
    if request.method == "GET":
        return render_template(
            "admin/channel_form.html",
            cls=cls,
            channel=None,
            fields=forms.build(cls.config_schema),
            name="",
            schedule="",
            errors={},
            general=[],
            pulls=pulls(cls),
        )
    name = (request.form.get("name") or "").strip()
    schedule_raw = request.form.get("schedule_seconds", "")
    submitted = forms.parse(cls.config_schema, request.form)
    errors: dict = {}
    if not name:
        errors["name"] = ["A channel needs a name."]
    schedule = _schedule(schedule_raw, errors) if pulls(cls) else None
    try:
        cls.validate_config(submitted)
    except ValidationError as exc:
        errors["config"] = exc.details
    if not errors:
        hub = get_hub()
        try:
            with hub.db.transaction() as db:
                created = channel_service.create_channel(
                    hub,
                    db,
                    name=name,
                    connector=connector,
                    config=submitted,
                    schedule_seconds=schedule,
                )
                slug, channel_id = created.slug, created.id
        except HubError as exc:
            _field_errors(exc, errors)
        else:
            log.info("channel %s (%s) added by %s", slug, connector, g.user.email)
            flash(f"Channel “{name}” added.", "success")
            return redirect(url_for("admin.channels", _anchor=f"channel-{channel_id}"))
    config_errors = errors.get("config", {})
    return render_template(
        "admin/channel_form.html",
        cls=cls,
        channel=None,
        fields=forms.build(cls.config_schema, submitted=submitted, errors=config_errors),
        name=name,
        schedule=schedule_raw,
        errors=errors,
        general=forms.schema_level_errors(config_errors, cls.config_schema),
        pulls=pulls(cls),
    ), 422


# --- edit ---------------------------------------------------------------------------------


@bp.route("/channels/<int:channel_id>", methods=["GET", "POST"])
def channel_edit(channel_id: int):
    hub = get_hub()
    errors: dict = {}
    submitted = name = schedule_raw = None
    if request.method == "POST":
        with hub.db.read() as db:
            connector_name = _channel_or_404(db, channel_id).connector
        cls = hub.connectors.get(connector_name)
        if cls is not None:
            name = (request.form.get("name") or "").strip()
            schedule_raw = request.form.get("schedule_seconds", "")
            submitted = forms.parse(cls.config_schema, request.form)
            if not name:
                errors["name"] = ["A channel needs a name."]
            schedule = _schedule(schedule_raw, errors) if pulls(cls) else None
            if not errors:
                try:
                    with hub.db.transaction() as db:
                        row = _channel_or_404(db, channel_id)
                        row.name = channel_service.check_name_free(db, name, channel_id=row.id)
                        channel_service.update_config(hub, db, row, submitted, replace=True)
                        if pulls(cls):
                            row.schedule_seconds = schedule
                        row.updated_at = utcnow()
                        slug = row.slug
                except HubError as exc:
                    _field_errors(exc, errors)
                else:
                    log.info("channel %s changed by %s", slug, g.user.email)
                    flash(f"Channel “{name}” saved.", "success")
                    return redirect(url_for("admin.channel_edit", channel_id=channel_id))
    with hub.db.read() as db:
        channel = _channel_or_404(db, channel_id)
        cls = hub.connectors.get(channel.connector)
        if cls is None:
            flash(
                f"Channel {channel.slug} uses connector {channel.connector!r}, which is not "
                "installed.",
                "error",
            )
            return redirect(url_for("admin.channels"))
        stored_secrets = _stored_secrets(cls, channel)
        config_errors = errors.get("config", {})
        if submitted is None:
            stored = hub.decrypt_config(channel.connector, channel.config)
            fields = forms.build(cls.config_schema, stored=stored, stored_secrets=stored_secrets)
            name, schedule_raw = channel.name, str(channel.schedule_seconds or "")
        else:
            fields = forms.build(
                cls.config_schema,
                submitted=submitted,
                errors=config_errors,
                stored_secrets=stored_secrets,
            )
        registers = subscriptions.registers_webhooks(cls)
        html = render_template(
            "admin/channel_form.html",
            cls=cls,
            channel=channel,
            pulls=pulls(cls),
            takes_webhooks=takes_webhooks(cls),
            webhook_url=webhook_url(channel.slug),
            registers_webhooks=registers,
            registration=subscriptions.Registration.of(channel) if registers else None,
            registration_job=subscriptions.pending_job(db, channel.id) if registers else None,
            links=link_choices(hub, db, channel),
            invoicing=invoice_policy.policy_for(db, channel.id) if "sales" in cls.roles else None,
            issue_choices=ISSUE_CHOICES,
            returns_policy=return_policy.policy_for(db, channel.id)
            if "sales" in cls.roles
            else None,
            exchange_choices=EXCHANGE_CHOICES,
            routing_strategy=strategies.strategy_of(db, channel.id)
            if "sales" in cls.roles
            else None,
            strategy_choices=STRATEGY_CHOICES,
            fields=fields,
            name=name,
            schedule=schedule_raw,
            errors=errors,
            general=forms.schema_level_errors(config_errors, cls.config_schema),
        )
    return html, (422 if errors else 200)


# --- actions ------------------------------------------------------------------------------


def _back(channel_id: int) -> str:
    return safe_next(request.form.get("next"), url_for("admin.channel_edit", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/test")
def channel_test(channel_id: int):
    hub = get_hub()
    with hub.db.read() as db:
        channel = _channel_or_404(db, channel_id)
        name = channel.name
        try:
            connector = hub.connector_for(channel)
        except Exception as exc:  # noqa: BLE001  (e.g. a secret that cannot be decrypted)
            flash_error(exc)
            return redirect(_back(channel_id))
    try:
        message = connector.check_connection()
    except Exception as exc:  # noqa: BLE001  (the merchant sees why; unexpected ones are logged)
        if isinstance(exc, HubError):
            flash(f"Connection test of “{name}” failed: {exc.message}", "error")
        else:
            flash_error(exc)
    else:
        flash(f"Connection test of “{name}” passed: {message}", "success")
    return redirect(_back(channel_id))


@bp.post("/channels/<int:channel_id>/sync")
def channel_sync(channel_id: int):
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = _channel_or_404(db, channel_id)
        cls = hub.connectors.get(channel.connector)
        if cls is None or not pulls(cls):
            flash(f"“{channel.name}” does not pull orders; nothing to sync.", "error")
        elif not channel.enabled:
            flash(f"“{channel.name}” is disabled: enable it first.", "error")
        elif db.scalars(
            select(Job.id).where(
                Job.kind == PULL_JOB,
                Job.channel_id == channel.id,
                Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
        ).first():
            flash(f"A sync of “{channel.name}” is already queued or running.", "info")
        else:
            enqueue(db, PULL_JOB, {}, channel_id=channel.id)
            flash(
                f"Sync of “{channel.name}” queued: new orders appear as the worker pulls them.",
                "success",
            )
    return redirect(_back(channel_id))


@bp.post("/channels/<int:channel_id>/enabled")
def channel_enabled(channel_id: int):
    enabled = request.form.get("enabled") == "1"
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = _channel_or_404(db, channel_id)
        channel_service.set_enabled(hub, db, channel, enabled)
        name = channel.name
    log.info("channel %s %s by %s", channel_id, "enabled" if enabled else "disabled", g.user.email)
    flash(f"“{name}” is {'enabled' if enabled else 'disabled'}.", "success")
    return redirect(_back(channel_id))


@bp.post("/channels/<int:channel_id>/webhooks")
def channel_webhooks(channel_id: int):
    """Bring the provider's webhook subscriptions in step with the channel again (a job)."""
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = _channel_or_404(db, channel_id)
        name = channel.name
        if not subscriptions.registers_webhooks(hub.connectors.get(channel.connector)):
            flash(f"“{name}” does not register its webhooks itself.", "error")
            return redirect(_back(channel_id))
        subscriptions.announce(db, channel)
        doing = "registered" if channel.enabled else "removed"
    flash(f"The webhooks of “{name}” will be {doing} in a moment.", "success")
    return redirect(_back(channel_id))


def link_choices(hub, db, channel: Channel) -> dict[str, list[tuple[int, str]]]:
    """The channels a sales channel's orders may be paid and shipped through, by role."""
    cls = hub.connectors.get(channel.connector)
    if cls is None or "sales" not in cls.roles:
        return {}
    out: dict[str, list[tuple[int, str]]] = {"payment": [], "shipping": []}
    for other in db.scalars(select(Channel).order_by(Channel.name)):
        other_cls = hub.connectors.get(other.connector)
        for role in out:
            if other_cls is not None and role in other_cls.roles:
                out[role].append((other.id, other.name))
    return out


@bp.post("/channels/<int:channel_id>/links")
def channel_links(channel_id: int):
    """Name the payment and shipping channel of a sales channel's orders (blank: the default)."""
    hub = get_hub()
    wanted: dict[str, int | None] = {}
    for role in ("payment", "shipping"):
        raw = (request.form.get(f"{role}_channel_id") or "").strip()
        wanted[role] = int(raw) if raw.isdigit() else None
    try:
        with hub.db.transaction() as db:
            channel = _channel_or_404(db, channel_id)
            channel_service.link_channels(
                hub,
                db,
                channel,
                payment_channel_id=wanted["payment"],
                shipping_channel_id=wanted["shipping"],
                set_payment="payment_channel_id" in request.form,
                set_shipping="shipping_channel_id" in request.form,
            )
            name = channel.name
    except HubError as exc:
        flash(exc.message, "error")
    else:
        log.info("channel %s linked by %s: %s", channel_id, g.user.email, wanted)
        flash(f"Payment and shipping channels of “{name}” saved.", "success")
    return redirect(_back(channel_id))


#: The invoicing policies a sales channel's page offers, in words.
ISSUE_CHOICES = (
    (IssueOn.NEVER, "Never: the hub issues no invoice for these orders"),
    (IssueOn.CAPTURE, "When the payment is captured (a cash sale: the invoice is born paid)"),
    (IssueOn.SHIPMENT, "When the order has shipped (open, due after the payment terms)"),
)


def _terms_by_tag(raw: str) -> dict[str, int]:
    """``"b2b=30, wholesale=60"`` as ``{"b2b": 30, "wholesale": 60}``; refused in words."""
    terms: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.replace("\n", ",").split(","))):
        tag, _, days = part.partition("=")
        if not tag.strip() or not days.strip().isdigit():
            raise ValidationError(
                f"terms by customer tag: {part!r} is not tag=days (e.g. b2b=30)",
                details={"terms_by_tag": ["tag=days, separated by commas"]},
            )
        terms[tag.strip()] = int(days)
    return terms


@bp.post("/channels/<int:channel_id>/invoicing")
def channel_invoicing(channel_id: int):
    """Set when a sales channel's orders are invoiced, and on what terms (as the API's PUT)."""
    hub = get_hub()
    days = (request.form.get("payment_terms_days") or "0").strip()
    try:
        if not days.isdigit():
            raise ValidationError(
                f"payment terms: {days!r} is not a number of days",
                details={"payment_terms_days": ["a whole number of days"]},
            )
        terms = _terms_by_tag(request.form.get("terms_by_tag") or "")
        with hub.db.transaction() as db:
            name = _channel_or_404(db, channel_id).name
            invoice_policy.set_policy(
                db,
                channel_id,
                issue_on=request.form.get("issue_on", ""),
                payment_terms_days=int(days),
                terms_by_tag=terms,
            )
    except HubError as exc:
        flash(exc.message, "error")
    else:
        log.info("invoice policy of channel %s set by %s", channel_id, g.user.email)
        flash(f"Invoicing of “{name}” saved.", "success")
    return redirect(_back(channel_id))


@bp.post("/channels/<int:channel_id>/delete")
def channel_delete(channel_id: int):
    """Delete a channel, as the API does: refused while orders belong to it; with unfinished
    jobs it is disabled so that they drain, and can be deleted once they are done."""
    hub = get_hub()
    try:
        with hub.db.transaction() as db:
            channel = _channel_or_404(db, channel_id)
            name, slug = channel.name, channel.slug
            pending = channel_service.delete_channel(db, channel)
    except HubError as exc:
        flash(exc.message, "error")
        return redirect(_back(channel_id))
    if pending:
        log.info("channel %s disabled by %s to drain %d job(s)", slug, g.user.email, pending)
        flash(
            f"“{name}” has {pending} unfinished job(s): it is disabled now, so nothing new "
            "starts while they finish. Delete it again once they are done.",
            "info",
        )
        return redirect(_back(channel_id))
    log.info("channel %s deleted by %s", slug, g.user.email)
    flash(f"Channel “{name}” deleted.", "success")
    return redirect(url_for("admin.channels"))
