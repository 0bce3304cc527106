"""The REST API, ``/api/v1``: JSON in and out, ``Authorization: Bearer <token>``.

Views are thin: a schema loads the input (:func:`hub.web.apidoc.operation`),
one action of the hub does the work, a small function serialises the result.
Every error is ``{"error": {"code", "message", "details"}}`` (see
:mod:`hub.web.errors`); lists page with an opaque ``cursor`` (keyset on id,
newest first). The OpenAPI document is ``/api/v1/openapi.json``, its page for
people ``/api/v1/docs``; ``docs/api.md`` is the guide.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Forbidden, Unauthorized

from hub.accounts.scopes import Scope
from hub.accounts.users import find_token
from hub.channels import inbox
from hub.channels import manage as channels
from hub.channels import queries as channel_queries
from hub.core.exceptions import ConcurrencyError, Conflict, NotFound, ValidationError
from hub.core.lifecycle import OrderStatus
from hub.core.money import Money, MoneyError
from hub.inventory import levels as inventory
from hub.inventory.queries import LevelFilters, levels_statement
from hub.orders import commands, edits, manual, records
from hub.orders import queries as order_queries
from hub.orders.schemas import ManualOrderSchema, OrderEditSchema
from hub.orders.serialize import iso, order_detail, order_summary
from hub.pipeline.order_steps import check_order
from hub.purchasing.queries import with_incoming
from hub.queue import jobs
from hub.queue import queries as job_queries
from hub.returns import actions as returns
from hub.returns import queries as return_queries
from hub.returns.schemas import ReturnCreateSchema, ReturnReceiveSchema, ReturnRefundSchema
from hub.routing import places, promise
from hub.routing.geocode import geocoder_for
from hub.store.models import (
    ApiToken,
    Channel,
    Job,
    JobStatus,
    Location,
    Order,
    Return,
    StockLevel,
    WebhookEvent,
    utcnow,
)
from hub.store.queries import Found
from hub.web import api_schemas as s
from hub.web import errors, get_hub
from hub.web.api_access import document_scopes, refusal, required_scope, route_template
from hub.web.apidoc import ID, build_spec, operation

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register_blueprint_handlers(bp)

API_VERSION = "1.0.0"
#: A token's ``last_used_at`` is written at most this often (a write per request would serialise SQLite).
TOUCH_EVERY = timedelta(seconds=60)
#: Largest JSON body the API reads (``API_MAX_BYTES`` in the app config overrides it).
DEFAULT_MAX_BYTES = 1024 * 1024
#: Pages that document the API; a logged-in admin may read them without a token.
_DOC_ENDPOINTS = {"api.openapi", "api.docs"}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API token's id, name and scope."""

    token_id: int | None
    name: str
    scope: Scope

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


# --- authentication and request limits --------------------------------------------------------


@bp.before_request
def _authenticate():
    """Who is calling (401 without a valid token), and may they (403 below the route's scope)."""
    request.max_content_length = int(current_app.config.get("API_MAX_BYTES") or DEFAULT_MAX_BYTES)
    g.caller = _caller()
    rule = request.url_rule
    needed = required_scope(route_template(rule.rule) if rule else "", request.method)
    if not g.caller.scope.covers(needed):
        raise Forbidden(refusal(needed, g.caller.scope))


def _caller() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return _caller_for_token(value)
    if request.endpoint in _DOC_ENDPOINTS and _admin_in_session():
        return Caller(None, "admin", Scope.READ)
    raise Unauthorized(
        "send an API token: `Authorization: Bearer <token>` (create one with "
        "`hub token create --name <who>`)"
    )


def _caller_for_token(plain: str) -> Caller:
    hub = get_hub()
    with hub.db.read() as db:
        token = find_token(db, plain)
        if token is None:
            raise Unauthorized("the API token is unknown or revoked")
        caller = Caller(token.id, token.name, Scope(token.scope))
        stale = token.last_used_at is None or utcnow() - token.last_used_at > TOUCH_EVERY
    if stale:
        with hub.db.transaction() as db:
            db.execute(
                update(ApiToken).where(ApiToken.id == caller.token_id).values(last_used_at=utcnow())
            )
    return caller


def _admin_in_session() -> bool:
    """A person signed in to the admin UI may read the API docs (the admin's own check)."""
    from hub.web.admin import signed_in

    return current_app.secret_key is not None and signed_in() is not None


# Database errors a request can still provoke are the client's, not a crash of ours.
@bp.errorhandler(StaleDataError)
def _stale(exc):
    return errors.hub_error_response(
        ConcurrencyError("the record was changed by someone else; read it again and retry")
    )


@bp.errorhandler(DataError)
def _data_error(exc):
    log.info("API request refused by the database: %s", exc.__class__.__name__)
    return errors.error_response(422, "validation_error", "a value is too long or out of range")


@bp.errorhandler(IntegrityError)
def _integrity_error(exc):
    log.info("API request refused by a database constraint: %s", exc.__class__.__name__)
    return errors.error_response(409, "conflict", "the change clashes with an existing record")


# --- paging -----------------------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        value = int(number)
        if prefix != "id" or not 1 <= value <= s.MAX_ID:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            "the cursor is not one this API gave", details={"cursor": ["invalid cursor"]}
        ) from None
    return value


def created(out: Any, location: str | None = None) -> Response:
    """A 201 answer with ``out`` as its JSON body and, when given, the new resource's URL."""
    response = jsonify(out)
    response.status_code = 201
    if location is not None:
        response.headers["Location"] = location
    return response


def page(db, query, id_column, args: dict[str, Any], serialize) -> dict[str, Any]:
    """One page, newest first: ``{"data": [...], "next_cursor": ...}``."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(id_column < decode_cursor(args["cursor"]))
    rows = db.scalars(query.order_by(id_column.desc()).limit(limit + 1)).unique().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [serialize(row) for row in rows],
        "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
    }


def _before(args: dict[str, Any]) -> int | None:
    """The keyset of a list's ``cursor`` argument (None on the first page)."""
    return decode_cursor(args["cursor"]) if args.get("cursor") else None


def cursor_page(found: Found[Any], serialize: Callable[[Any], Any]) -> dict[str, Any]:
    """A slice read by a capability's query, as the API answers it."""
    return {
        "data": [serialize(row) for row in found.rows],
        "next_cursor": encode_cursor(found.last_id) if found.last_id is not None else None,
    }


def _get(db, model, record_id: int, what: str):
    record = db.get(model, record_id)
    if record is None:
        raise NotFound(f"{what} {record_id} does not exist")
    return record


# --- connectors and channels --------------------------------------------------------------------------

_FIELD_TYPES = {
    "Integer": "integer",
    "Float": "number",
    "Decimal": "number",
    "Boolean": "boolean",
    "List": "array",
    "Dict": "object",
    "Nested": "object",
}


def connector_json(cls) -> dict[str, Any]:
    schema = cls.config_schema()
    config_fields = []
    for name, f in schema.fields.items():
        choices = getattr(getattr(f, "validate", None), "choices", None)
        for v in getattr(f, "validators", []):
            choices = getattr(v, "choices", choices)
        config_fields.append(
            {
                "name": f.data_key or name,
                "type": _FIELD_TYPES.get(type(f).__name__, "string"),
                "required": bool(f.required),
                "secret": bool(f.metadata.get("secret")),
                "label": str(f.metadata.get("label") or name.replace("_", " ").capitalize()),
                "help": str(f.metadata.get("help") or f.metadata.get("description") or ""),
                "choices": [str(c) for c in choices] if choices is not None else None,
            }
        )
    return {
        "name": cls.name,
        "label": cls.label or cls.name,
        "description": cls.description or "",
        "roles": list(cls.roles),
        "config_fields": config_fields,
    }


def webhook_url(channel: Channel) -> str:
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return str(public).rstrip("/") + url_for("webhooks.receive", slug=channel.slug)
    return url_for("webhooks.receive", slug=channel.slug, _external=True)


def channel_json(channel: Channel) -> dict[str, Any]:
    hub = get_hub()
    cls = hub.connectors.get(channel.connector)
    return {
        "id": channel.id,
        "slug": channel.slug,
        "name": channel.name,
        "connector": channel.connector,
        "roles": list(cls.roles) if cls else [],
        "enabled": channel.enabled,
        "config": channels.masked_config(hub, channel),
        "schedule_seconds": channel.schedule_seconds,
        "payment_channel_id": channel.payment_channel_id,
        "shipping_channel_id": channel.shipping_channel_id,
        "webhook_url": webhook_url(channel),
        "last_sync_at": iso(channel.last_sync_at),
        "last_error": channel.last_error,
        "created_at": iso(channel.created_at),
        "updated_at": iso(channel.updated_at),
    }


def _config_errors(exc: ValidationError) -> ValidationError:
    """A connector schema's field errors, nested under ``config`` as the request had them."""
    return ValidationError(exc.message, details={"config": exc.details})


@bp.get("/connectors")
@operation(
    "List the installed connectors and their config fields",
    tag="channels",
    ok=(200, s.ConnectorListSchema, "The connectors."),
)
def list_connectors():
    """What `connector` a channel may name, and the fields of its `config`."""
    hub = get_hub()
    return jsonify(data=[connector_json(hub.connectors[name]) for name in sorted(hub.connectors)])


@bp.get("/channels")
@operation("List channels", tag="channels", ok=(200, s.ChannelListSchema, "Every channel."))
def list_channels():
    with get_hub().db.read() as db:
        return jsonify(
            data=[channel_json(c) for c in db.scalars(select(Channel).order_by(Channel.id))]
        )


@bp.post("/channels")
@operation(
    "Create a channel",
    tag="channels",
    body=s.ChannelCreateSchema,
    ok=(201, s.ChannelSchema, "Created; secret fields come back masked."),
)
def create_channel(body):
    """The connector's own schema validates `config`: errors come back per field under
    `details.config`. Secret fields are encrypted at rest and never shown again."""
    hub = get_hub()
    if body["connector"] not in hub.connectors:
        raise ValidationError(
            f"there is no connector {body['connector']!r}",
            details={"connector": [f"installed: {', '.join(sorted(hub.connectors))}"]},
        )
    try:
        hub.validate_config(body["connector"], body["config"])
    except ValidationError as exc:
        raise _config_errors(exc) from None
    with hub.db.transaction() as db:
        channel = channels.create_channel(
            hub,
            db,
            name=body["name"],
            connector=body["connector"],
            config=body["config"],
            slug=body["slug"],
            enabled=body["enabled"],
            schedule_seconds=body["schedule_seconds"],
        )
        channels.link_channels(
            hub,
            db,
            channel,
            payment_channel_id=body["payment_channel_id"],
            shipping_channel_id=body["shipping_channel_id"],
            set_payment=True,
            set_shipping=True,
        )
        db.flush()
        out = channel_json(channel)
    log.info("channel %s (%s) created by %s", out["slug"], out["connector"], g.caller.actor)
    return created(out, url_for("api.get_channel", channel_id=out["id"]))


@bp.get(f"/channels/<{ID}:channel_id>")
@operation("Get a channel", tag="channels", ok=(200, s.ChannelSchema, "The channel."))
def get_channel(channel_id: int):
    with get_hub().db.read() as db:
        return jsonify(channel_json(_get(db, Channel, channel_id, "channel")))


@bp.patch(f"/channels/<{ID}:channel_id>")
@operation(
    "Change a channel",
    tag="channels",
    body=s.ChannelPatchSchema,
    ok=(200, s.ChannelSchema, "The channel as it is now."),
)
def update_channel(channel_id: int, body):
    """Only the fields sent change. In `config`, a secret field sent blank (or as the mask
    `********`) keeps its stored value."""
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = _get(db, Channel, channel_id, "channel")
        if "config" in body:
            try:
                channels.update_config(hub, db, channel, body["config"])
            except ValidationError as exc:
                raise _config_errors(exc) from None
        if "name" in body:  # unique among channels (422 with details.name)
            channel.name = channels.check_name_free(db, body["name"], channel_id=channel.id)
        if "schedule_seconds" in body:
            channel.schedule_seconds = body["schedule_seconds"]
        if "enabled" in body:  # its webhooks at the provider follow
            channels.set_enabled(hub, db, channel, body["enabled"])
        channels.link_channels(
            hub,
            db,
            channel,
            payment_channel_id=body.get("payment_channel_id"),
            shipping_channel_id=body.get("shipping_channel_id"),
            set_payment="payment_channel_id" in body,
            set_shipping="shipping_channel_id" in body,
        )
        channel.updated_at = utcnow()
        db.flush()
        return jsonify(channel_json(channel))


@bp.delete(f"/channels/<{ID}:channel_id>")
@operation("Delete a channel", tag="channels", ok=(204, None, "Deleted."), errors=(409,))
def delete_channel(channel_id: int):
    """Refused with 409 while orders belong to the channel: disable it instead. While jobs
    of the channel are unfinished it answers 409 too, with `details.jobs`, and disables the
    channel so that nothing new starts while they drain: delete it again once they are done."""
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = _get(db, Channel, channel_id, "channel")
        slug = channel.slug
        pending = channels.delete_channel(db, channel)
    if pending:
        log.info("channel %s disabled by %s to drain %d job(s)", slug, g.caller.actor, pending)
        raise Conflict(
            f"channel {slug} has {pending} unfinished job(s): it is disabled now, so nothing "
            f"new starts while they finish; delete it again once they are done",
            details={"jobs": pending, "enabled": False},
        )
    log.info("channel %s deleted by %s", slug, g.caller.actor)
    return "", 204


@bp.post(f"/channels/<{ID}:channel_id>/test")
@operation(
    "Test a channel's connection",
    tag="channels",
    ok=(200, s.ConnectionCheckSchema, "The connection works."),
    errors=(422, 502),
)
def test_channel(channel_id: int):
    """Reaches the outside system with the channel's credentials. A refusal or failure
    of the service answers 502 with its message."""
    hub = get_hub()
    with hub.db.read() as db:
        connector = hub.connector_for(_get(db, Channel, channel_id, "channel"))
    return jsonify(ok=True, message=str(connector.check_connection() or "ok"))


@bp.post(f"/channels/<{ID}:channel_id>/sync")
@operation(
    "Sync a channel now",
    tag="channels",
    ok=(202, s.SyncSchema, "The channel's scheduled work (a pull of orders, a poll) is queued."),
    errors=(409, 422),
)
def sync_channel(channel_id: int):
    """Queues the jobs the scheduler would run for the channel (e.g. `channel.pull`), now.
    409 when the channel is disabled, 422 when its connector neither pulls nor polls."""
    hub = get_hub()
    with hub.db.transaction() as db:
        ids = channels.request_sync(hub, db, _get(db, Channel, channel_id, "channel"))
    response = jsonify(status=JobStatus.QUEUED, job_ids=ids)
    response.status_code = 202
    return response


# --- orders ------------------------------------------------------------------------------------------


@bp.get("/orders")
@operation(
    "List orders",
    tag="orders",
    query=s.OrdersQuerySchema,
    ok=(200, s.OrderPageSchema, "A page of orders, newest first."),
)
def list_orders(query):
    """Filters combine with AND. Page with `limit` and the `next_cursor` of each answer."""
    filters = order_queries.OrderFilters(
        status=query.get("status"),
        channel=query.get("channel"),
        financial_status=query.get("financial_status"),
        fulfillment_status=query.get("fulfillment_status"),
        q=query.get("q"),
        updated_since=query.get("updated_since"),
        placed_from=query.get("placed_from"),
        placed_to=query.get("placed_to"),
        hold_reason=query.get("hold_reason"),
        late=bool(query.get("late")),
        carrier_problem=bool(query.get("carrier_problem")),
    )
    with get_hub().db.read() as db:
        found = order_queries.search_orders(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        return jsonify(cursor_page(found, order_summary))


def _order_json(order_id: int) -> dict[str, Any]:
    with get_hub().db.read() as db:
        order = db.scalars(records.order_query().where(Order.id == order_id)).one_or_none()
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        out = order_detail(order)
        out["delivery"] = promise.delivery_json(db, order)
        return out


@bp.get(f"/orders/<{ID}:order_id>")
@operation(
    "Get an order",
    tag="orders",
    ok=(200, s.OrderDetailSchema, "The order with lines, payments, shipments and events."),
)
def get_order(order_id: int):
    return jsonify(_order_json(order_id))


@bp.post("/orders")
@operation(
    "Create a manual order",
    tag="orders",
    body=ManualOrderSchema,
    ok=(201, s.OrderDetailSchema, "Created."),
    also=(
        (
            200,
            s.OrderDetailSchema,
            "An order with this `external_id` exists already: "
            "it is returned and nothing new is created.",
        ),
    ),
)
def create_order(body):
    """The order belongs to the built-in `manual` channel. Amounts are decimal strings in
    `currency` (`"19.99"`). Give your own `external_id` to make retries safe."""
    hub = get_hub()
    with hub.db.transaction() as db:
        channel = channels.ensure_manual_channel(hub, db)
        result = manual.create_manual_order(
            db, channel, body, actor=g.caller.actor, geocoder=geocoder_for(hub)
        )
        order_id, created = result.order.id, result.created
    response = jsonify(_order_json(order_id))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_order", order_id=order_id)
    return response


@bp.patch(f"/orders/<{ID}:order_id>")
@operation(
    "Edit an order that has not gone to the warehouse",
    tag="orders",
    body=OrderEditSchema,
    ok=(200, s.OrderDetailSchema, "The order after the edit (and its checks)."),
    errors=(409,),
)
def edit_order(order_id: int, body):
    """Change the lines, amounts, addresses or note of an order while nothing of it went to a
    warehouse (pending, on hold, or confirmed before fulfilment started); fields left out stay.
    Send the `version` you read (or `If-Match: "<version>"`): an order changed since answers
    409 `conflict`. The totals are computed again; new lines are checked and reserved again
    (a confirmed order goes back to pending for that). The `order.edited` event says what
    changed, and what the payments now cover when the total differs from what they hold.
    An order gone to the warehouse, or the lines of an external channel's order, answer 409."""
    version = body.pop("version", None)
    if version is None:
        version = _if_match_version()
    hub = get_hub()
    with hub.db.transaction() as db:
        outcome = edits.edit_order(
            db,
            order_id,
            body,
            actor=g.caller.actor,
            version=version,
            geocoder=geocoder_for(hub),
        )
        recheck = outcome.relined and outcome.order.status == OrderStatus.PENDING
    if recheck:
        try:  # checked and reserved again now, so the answer shows where it stands
            check_order(hub, order_id)
        except Exception:  # noqa: BLE001  (the edit stands; its queued order.process checks it)
            log.exception("checking edited order %s failed; its job will check it", order_id)
    detail = _order_json(order_id)
    response = jsonify(detail)
    response.headers["ETag"] = f'"{detail["version"]}"'
    return response


def _if_match_version() -> int | None:
    """The version an ``If-Match: "<version>"`` header names (None without one)."""
    raw = request.headers.get("If-Match", "").strip()
    if not raw:
        return None
    text = raw.removeprefix("W/").strip('"')
    if not text.isdigit() or not 1 <= int(text) <= s.MAX_ID:
        raise ValidationError(
            'If-Match is the order\'s version in quotes ("7")',
            details={"If-Match": ["not an order version"]},
        )
    return int(text)


@bp.post(f"/orders/<{ID}:order_id>/transitions")
@operation(
    "Move an order through its life cycle",
    tag="orders",
    body=s.TransitionInSchema,
    ok=(200, s.OrderDetailSchema, "The order after the transition."),
    errors=(409,),
)
def transition_order(order_id: int, body):
    """`{"event": "cancel", "reason": "customer asked"}`. An event the order's status does
    not allow answers 409 `invalid_transition` with `details.status` and `details.allowed`.
    The same status again is a no-op."""
    hub = get_hub()
    with hub.unit_of_work() as work:
        commands.transition(
            work, order_id, body["event"], actor=g.caller.actor, reason=body["reason"]
        )
    return jsonify(_order_json(order_id))


# --- returns -------------------------------------------------------------------------------------------
# The steps are hub.returns' (the admin UI and the CLI call the same ones): requested -> approved
# -> received -> refunded, or rejected. A step the return's status does not allow is a 409.


def _returns_query():
    return return_queries.returns_statement()


def _return_json(return_id: int) -> dict[str, Any]:
    with get_hub().db.read() as db:
        ret = db.scalars(_returns_query().where(Return.id == return_id)).one_or_none()
        if ret is None:
            raise NotFound(f"return {return_id} does not exist")
        return returns.return_detail(ret)


def _returned(return_id: int, status: int = 200):
    response = jsonify(_return_json(return_id))
    response.status_code = status
    return response


@bp.get(f"/orders/<{ID}:order_id>/returns")
@operation(
    "List an order's returns",
    tag="returns",
    ok=(
        200,
        s.ReturnListSchema,
        "The order's returns, oldest first, with their refunds' progress.",
    ),
)
def list_order_returns(order_id: int):
    with get_hub().db.read() as db:
        _get(db, Order, order_id, "order")
        rows = db.scalars(
            return_queries.returns_statement(
                return_queries.ReturnFilters(order_id=order_id)
            ).order_by(Return.id)
        ).all()
        jobs_of_order = return_queries.refund_jobs(db, order_id)
        return jsonify(data=[returns.return_detail(r, jobs=jobs_of_order) for r in rows])


@bp.post(f"/orders/<{ID}:order_id>/returns")
@operation(
    "Open a return",
    tag="returns",
    body=ReturnCreateSchema,
    ok=(201, s.ReturnDetailSchema, "The return, `requested`."),
)
def create_order_return(order_id: int, body):
    """Lines (`line_id` from the order's `lines`) and quantities, up to what shipped less what
    other returns (not rejected) take back; a `reason`. The refund is worked out now: each
    line's share of the order total, plus the shipping with `refund_shipping`, unless
    `refund_amount` says otherwise. The order must have shipped (else 422)."""
    with get_hub().db.transaction() as db:
        return_id = returns.create_return(db, order_id, body, actor=g.caller.actor).id
    log.info("return %s of order %s opened by %s", return_id, order_id, g.caller.actor)
    response = _returned(return_id, 201)
    response.headers["Location"] = url_for("api.get_return", return_id=return_id)
    return response


@bp.get("/returns")
@operation(
    "List returns",
    tag="returns",
    query=s.ReturnsQuerySchema,
    ok=(200, s.ReturnPageSchema, "A page of returns, newest first."),
)
def list_returns(query):
    """`status=requested` lists the returns waiting for approval; `status=approved`, those whose
    goods are awaited."""
    filters = return_queries.ReturnFilters(status=query.get("status"))
    with get_hub().db.read() as db:
        found = return_queries.search_returns(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        # The refund jobs of the page's orders in one query, not one per return.
        jobs_by_order = return_queries.refund_jobs_by_order(db, {r.order_id for r in found.rows})
        return jsonify(
            cursor_page(
                found,
                lambda ret: returns.return_detail(ret, jobs=jobs_by_order.get(ret.order_id, [])),
            )
        )


@bp.get(f"/returns/<{ID}:return_id>")
@operation(
    "Get a return",
    tag="returns",
    ok=(200, s.ReturnDetailSchema, "The return and how its refund is going."),
)
def get_return(return_id: int):
    return jsonify(_return_json(return_id))


@bp.post(f"/returns/<{ID}:return_id>/approve")
@operation(
    "Approve a return",
    tag="returns",
    body=s.ReturnApproveSchema,
    body_required=False,
    ok=(200, s.ReturnDetailSchema, "The return, `approved`."),
    errors=(409,),
)
def approve_return(return_id: int, body):
    """Only a `requested` return (409 otherwise); approving it again is a no-op."""
    with get_hub().db.transaction() as db:
        returns.approve_return(db, return_id, actor=g.caller.actor, note=body["note"])
    return _returned(return_id)


@bp.post(f"/returns/<{ID}:return_id>/reject")
@operation(
    "Reject a return",
    tag="returns",
    body=s.ReturnRejectSchema,
    ok=(200, s.ReturnDetailSchema, "The return, `rejected`; its units can be returned again."),
    errors=(409,),
)
def reject_return(return_id: int, body):
    """Only before its goods are received (409 otherwise). The reason is required."""
    with get_hub().db.transaction() as db:
        returns.reject_return(db, return_id, actor=g.caller.actor, reason=body["reason"])
    return _returned(return_id)


@bp.post(f"/returns/<{ID}:return_id>/receive")
@operation(
    "Receive a return's goods",
    tag="returns",
    body=ReturnReceiveSchema,
    body_required=False,
    ok=(200, s.ReturnDetailSchema, "The return, `received`, each line restocked or written off."),
    errors=(409,),
)
def receive_return(return_id: int, body):
    """Only an `approved` return (409 otherwise). Where each line goes, first that applies:
    `lines[line_id]` (a location code or `write_off`), what the return was created with,
    `write_off: true` for all, `location` for all, the location it shipped from. Each
    restocked unit is a stock movement and is pushed to the sales channels."""
    with get_hub().db.transaction() as db:
        returns.receive_return(
            db,
            return_id,
            actor=g.caller.actor,
            location=body["location"],
            write_off=body["write_off"],
            lines=body["lines"],
        )
    return _returned(return_id)


@bp.post(f"/returns/<{ID}:return_id>/refund")
@operation(
    "Refund a return",
    tag="returns",
    body=ReturnRefundSchema,
    body_required=False,
    ok=(
        200,
        s.ReturnDetailSchema,
        "The return, `refunded`: the refunds are queued to the "
        "gateways (`refund.status` tells how they go).",
    ),
    errors=(409,),
)
def refund_return(return_id: int, body):
    """Only a `received` return (409 otherwise). `amount` (shipping included) defaults to the
    return's refund plus its shipping refund. More than the order's payments can still give
    back (captured − refunded − refunds on their way) is a 422 whose `details.refundable`
    is that figure; nothing is queued then. The order becomes `partially_returned` or
    `returned`."""
    with get_hub().db.transaction() as db:
        minor = None
        if body["amount"] is not None:
            currency = _get(db, Return, return_id, "return").currency
            try:
                minor = Money.parse(body["amount"], currency).amount
            except MoneyError as exc:
                raise ValidationError(
                    f"invalid amount: {exc}", details={"amount": [str(exc)]}
                ) from None
        returns.refund_return(db, return_id, actor=g.caller.actor, amount=minor)
    log.info("return %s refunded by %s", return_id, g.caller.actor)
    return _returned(return_id)


# --- locations and stock -------------------------------------------------------------------------------


def location_json(location: Location) -> dict[str, Any]:
    return {
        "id": location.id,
        "code": location.code,
        "name": location.name,
        "priority": location.priority,
        "active": location.active,
        "created_at": iso(location.created_at),
        **places.location_place(location),
    }


def _place_changes(body: dict[str, Any]) -> dict[str, Any]:
    """What of a location's body says where it is (hub.routing.places)."""
    return {k: body[k] for k in (*places.ADDRESS_PARTS, "latitude", "longitude") if k in body}


def level_json(level: StockLevel) -> dict[str, Any]:
    return {
        "id": level.id,
        "sku": level.sku,
        "location": level.location.code,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "updated_at": iso(level.updated_at),
    }


@bp.get("/locations")
@operation("List locations", tag="stock", ok=(200, s.LocationListSchema, "Every location."))
def list_locations():
    with get_hub().db.read() as db:
        rows = db.scalars(select(Location).order_by(Location.priority.desc(), Location.code))
        return jsonify(data=[location_json(x) for x in rows])


@bp.post("/locations")
@operation(
    "Create a location",
    tag="stock",
    body=s.LocationCreateSchema,
    ok=(201, s.LocationSchema, "Created."),
    errors=(409,),
)
def create_location(body):
    with get_hub().db.transaction() as db:
        if db.scalars(select(Location.id).where(Location.code == body["code"])).first() is not None:
            raise Conflict(
                f"location {body['code']!r} exists: change it with PATCH",
                details={"code": body["code"]},
            )
        location = inventory.upsert_location(
            db, body["code"], name=body["name"], priority=body["priority"], active=body["active"]
        )
        if _place_changes(body):
            location = places.set_location_place(db, location.code, _place_changes(body)).location
        out = location_json(location)
    return created(out, url_for("api.get_location", code=out["code"]))


@bp.get("/locations/<code>")
@operation("Get a location", tag="stock", ok=(200, s.LocationSchema, "The location."))
def get_location(code: str):
    with get_hub().db.read() as db:
        return jsonify(location_json(inventory.get_location(db, code)))


@bp.patch("/locations/<code>")
@operation(
    "Change a location",
    tag="stock",
    body=s.LocationPatchSchema,
    ok=(200, s.LocationSchema, "The location as it is now."),
)
def update_location(code: str, body):
    with get_hub().db.transaction() as db:
        current = inventory.get_location(db, code)
        location = inventory.upsert_location(
            db,
            code,
            name=body.get("name", current.name),
            priority=body.get("priority", current.priority),
            active=body.get("active", current.active),
        )
        if _place_changes(body):
            location = places.set_location_place(db, code, _place_changes(body)).location
        return jsonify(location_json(location))


@bp.get("/stock")
@operation(
    "List stock levels",
    tag="stock",
    query=s.StockQuerySchema,
    ok=(200, s.StockPageSchema, "A page of stock levels."),
)
def list_stock(query):
    """One level per SKU and location: on hand, reserved by orders, available, and incoming
    (ordered from suppliers on sent purchase orders, not yet received)."""
    filters = LevelFilters(sku=query.get("sku"), q=query.get("q"), location=query.get("location"))
    with get_hub().db.read() as db:
        stmt = levels_statement(db, filters)
        out = page(db, stmt, StockLevel.id, query, level_json)
        with_incoming(db, out["data"])
        return jsonify(out)


@bp.post("/stock")
@operation(
    "Set stock levels",
    tag="stock",
    body=s.StockSetSchema,
    ok=(200, s.StockSetResultSchema, "The levels after the change."),
)
def set_stock(body):
    """Sets on-hand quantities (absolute, not deltas), all or none. Each change is recorded
    as a stock movement (actor: the token's name, source `api`) and pushed to the sales
    channels."""
    changes = [
        inventory.LevelChange(sku=x["sku"], location_code=x["location"], on_hand=x["on_hand"])
        for x in body["levels"]
    ]
    with get_hub().db.transaction() as db:
        try:
            changed = inventory.set_on_hand(
                db, changes, actor=g.caller.name, reason=body["reason"], source="api"
            )
        except NotFound as exc:
            raise ValidationError(exc.message, details={"levels": [exc.message]}) from None
        keys = {(c.sku, c.location_code) for c in changes}
        levels = db.scalars(
            select(StockLevel)
            .join(Location)
            .options(joinedload(StockLevel.location))
            .where(
                StockLevel.sku.in_({k[0] for k in keys}), Location.code.in_({k[1] for k in keys})
            )
            .order_by(StockLevel.sku, Location.code)
        ).all()
        out = [level_json(x) for x in levels if (x.sku, x.location.code) in keys]
        return jsonify(changed=changed, levels=with_incoming(db, out))


# --- jobs -------------------------------------------------------------------------------------------------


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "channel_id": job.channel_id,
        "order_id": job.order_id,
        "payload": job.payload or {},
        "run_at": iso(job.run_at),
        "last_error": job.last_error,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "finished_at": iso(job.finished_at),
    }


@bp.get("/jobs")
@operation(
    "List jobs", tag="jobs", query=s.JobsQuerySchema, ok=(200, s.JobPageSchema, "A page of jobs.")
)
def list_jobs(query):
    """`status=dead` lists the dead letters: work that failed for good, with its last error."""
    filters = job_queries.JobFilters(status=query.get("status"), kind=query.get("kind"))
    with get_hub().db.read() as db:
        found = job_queries.search_jobs(db, filters, limit=query["limit"], before_id=_before(query))
        return jsonify(cursor_page(found, job_json))


@bp.get(f"/jobs/<{ID}:job_id>")
@operation("Get a job", tag="jobs", ok=(200, s.JobSchema, "The job."))
def get_job(job_id: int):
    with get_hub().db.read() as db:
        return jsonify(job_json(_get(db, Job, job_id, "job")))


@bp.post(f"/jobs/<{ID}:job_id>/retry")
@operation(
    "Retry a failed or dead job",
    tag="jobs",
    ok=(200, s.JobSchema, "Queued to run now."),
    errors=(409,),
)
def retry_job(job_id: int):
    """Queues the job to run now with a fresh set of attempts; 409 unless it is failed or dead."""
    with get_hub().db.transaction() as db:
        _get(db, Job, job_id, "job")
        try:
            job = jobs.retry(db, job_id)
        except ValidationError as exc:
            raise Conflict(exc.message) from None
        db.flush()
        log.info("job %s retried by %s", job_id, g.caller.actor)
        return jsonify(job_json(job))


# --- the webhook inbox ------------------------------------------------------------------------------------


def webhook_event_json(event: WebhookEvent, *, detail: bool = False) -> dict[str, Any]:
    out = {
        "id": event.id,
        "channel": event.channel.slug,
        "event_id": event.event_id,
        "topic": event.topic,
        "status": event.status,
        "error": event.error,
        "attempts": event.attempts,
        "received_at": iso(event.received_at),
        "processed_at": iso(event.processed_at),
    }
    if detail:
        out.update(headers=event.headers or {}, body=event.body)
    return out


@bp.get("/webhook-events")
@operation(
    "List inbound webhooks",
    tag="webhook-events",
    query=s.WebhookEventsQuerySchema,
    ok=(200, s.WebhookEventPageSchema, "A page of the inbox."),
)
def list_webhook_events(query):
    """The inbox: every verified webhook as received, and what processing it did
    (`processed`, `ignored`, `failed` with its error)."""
    filters = channel_queries.WebhookEventFilters(
        channel=query.get("channel"), status=query.get("status")
    )
    with get_hub().db.read() as db:
        found = channel_queries.search_webhook_events(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        return jsonify(cursor_page(found, webhook_event_json))


@bp.get(f"/webhook-events/<{ID}:event_id>")
@operation(
    "Get an inbound webhook",
    tag="webhook-events",
    ok=(200, s.WebhookEventDetailSchema, "The event with its headers and raw body."),
)
def get_webhook_event(event_id: int):
    with get_hub().db.read() as db:
        return jsonify(
            webhook_event_json(_get(db, WebhookEvent, event_id, "webhook event"), detail=True)
        )


@bp.post(f"/webhook-events/<{ID}:event_id>/replay")
@operation(
    "Process an inbound webhook again",
    tag="webhook-events",
    ok=(202, s.JobQueuedSchema, "Processing is queued."),
)
def replay_webhook_event(event_id: int):
    """For an event whose processing failed (after fixing the cause). Processing is
    idempotent, so replaying a processed event changes nothing that is already right."""
    job_id = inbox.replay(get_hub(), event_id)
    log.info("webhook event %s replayed by %s", event_id, g.caller.actor)
    response = jsonify(job_id=job_id, status=JobStatus.QUEUED)
    response.status_code = 202
    return response


# The back office's ledgers (ERP files, notification deliveries) are read by views of their own
# module, on this blueprint; so are replenishment's (a SKU's demand and reorder policy).
import hub.web.api_replenishment  # noqa: E402,F401
import hub.web.api_routing  # noqa: E402,F401
from hub.web import (  # noqa: E402,F401
    api_backoffice,
    api_cases,
    api_customers,
    api_invoices,
    api_purchasing,
    api_return_policy,
    api_routing_policy,
    api_substitutes,
    invoice_pdf,
)

# --- the API's own documentation ------------------------------------------------------------------------

DESCRIPTION = (
    "The hub's REST API. Send `Authorization: Bearer <token>` (tokens from `hub token create`). "
    'Errors are `{"error": {"code", "message", "details"}}`; lists page with `limit` and '
    "`cursor` (`next_cursor` of the previous answer). Money is a decimal string in the order's "
    "`currency`."
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of this app, built once per app from the declared views."""
    # Flask types current_app as a Flask, not as the LocalProxy it is.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("hub_openapi")
    if cached is None:
        cached = build_spec(
            app, blueprint="api", title="hub REST API", version=API_VERSION, description=DESCRIPTION
        )
        document_scopes(cached, app)
        cached["servers"] = [{"url": "/"}]
        app.extensions["hub_openapi"] = cached
    return cached


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document (generated from the marshmallow schemas)."""
    return jsonify(openapi_document())


@bp.get("/docs")
def docs():
    """The API reference for people: every operation, its parameters, bodies and answers."""
    from hub.web.apidocs_page import operations_for_page, page_intro

    spec = openapi_document()
    return render_template(
        "api/docs.html", spec=spec, groups=operations_for_page(spec), intro=page_intro(spec)
    )
