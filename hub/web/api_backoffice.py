"""The REST API's back-office views: ERP files and outbound notification deliveries.

Both are ledgers other parts write (the ``erp_csv`` connector, the ``notify``
job; see :mod:`hub.channels.erp_ledgers` and :mod:`hub.notifications.outbox`); these views only read
them, on the API's blueprint, with its token check, errors and cursor pages.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, send_file
from sqlalchemy import select

from hub.channels import erp_ledgers as erp
from hub.channels import queries
from hub.notifications import outbox as notifications
from hub.notifications import queries as delivery_queries
from hub.orders.serialize import iso
from hub.store.models import Channel, ErpExport, ErpImport, NotificationAttempt
from hub.web import api_schemas as s
from hub.web import get_hub
from hub.web.api import _before, _get, bp, cursor_page
from hub.web.apidoc import ID, operation

# --- ERP files ------------------------------------------------------------------------------------------


def _slugs(db) -> dict[int, str]:
    return dict(db.execute(select(Channel.id, Channel.slug)).all())


def erp_file_json(row: ErpImport, slugs: dict[int, str], *, detail: bool = False) -> dict[str, Any]:
    out = erp.import_dict(row)
    rejects = out.pop("rejects")
    out["channel"] = slugs.get(row.channel_id)
    out["updated_at"] = iso(row.updated_at)
    if detail:
        out["rejects"] = rejects
    return out


def _rejects_download(import_id: int):
    hub = get_hub()
    with hub.db.read() as db:
        _get(db, ErpImport, import_id, "ERP file")
        found = erp.rejects_download(db, import_id, root=hub.settings.erp_folder)
    return send_file(
        found.path, mimetype="text/csv", as_attachment=True, download_name=found.name, max_age=0
    )


@bp.get("/erp-files")
@operation(
    "List ERP stock files",
    tag="erp",
    query=s.ErpFilesQuerySchema,
    ok=(200, s.ErpFilePageSchema, "A page of stock files, newest first."),
)
def list_erp_files(query):
    """Every stock file an ERP channel found in its import folder, and what became of it:
    `succeeded`, `partial` (some rows rejected), `failed` (nothing applied: `error` says
    why), `duplicate` (same content as a file imported before: nothing done) or
    `processing`. `GET /erp-files/<id>` lists its rejected rows."""
    filters = queries.ErpFileFilters(channel=query.get("channel"), status=query.get("status"))
    with get_hub().db.read() as db:
        found = queries.search_erp_files(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        slugs = _slugs(db)
        return jsonify(cursor_page(found, lambda row: erp_file_json(row, slugs)))


@bp.get(f"/erp-files/<{ID}:file_id>")
@operation(
    "Get an ERP stock file",
    tag="erp",
    ok=(200, s.ErpFileDetailSchema, "The file with its first rejected rows (line and reason)."),
)
def get_erp_file(file_id: int):
    """`rejects` holds the first rejected rows; all of them, with the row as read, are in
    the rejects file (`GET /erp-files/<id>/rejects`)."""
    with get_hub().db.read() as db:
        return jsonify(
            erp_file_json(_get(db, ErpImport, file_id, "ERP file"), _slugs(db), detail=True)
        )


@bp.get(f"/erp-files/<{ID}:file_id>/rejects")
@operation(
    "Download an ERP file's rejected rows",
    tag="erp",
    ok=(
        200,
        {"type": "string"},
        "The rejects file: the rows as read, plus `line` and `reason` "
        "(CSV, in the file's own delimiter and encoding).",
    ),
    media_type="text/csv",
)
def get_erp_file_rejects(file_id: int):
    """404 when the file had no rejected rows (or its rejects file was removed)."""
    return _rejects_download(file_id)


def erp_export_json(row: ErpExport, slugs: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": slugs.get(row.channel_id),
        "channel_id": row.channel_id,
        "sequence": row.sequence,
        "file_name": row.file_name,
        "orders": row.orders,
        "rows": row.rows,
        "checksum": row.checksum,
        "created_at": iso(row.created_at),
    }


@bp.get("/erp-exports")
@operation(
    "List ERP order files written",
    tag="erp",
    query=s.ErpExportsQuerySchema,
    ok=(200, s.ErpExportPageSchema, "A page of order files, newest first."),
)
def list_erp_exports(query):
    """Each order file an ERP channel wrote to its export folder: its name, how many
    orders and rows, and its SHA-256."""
    with get_hub().db.read() as db:
        found = queries.search_erp_exports(
            db, channel=query.get("channel"), limit=query["limit"], before_id=_before(query)
        )
        slugs = _slugs(db)
        return jsonify(cursor_page(found, lambda row: erp_export_json(row, slugs)))


# --- notification deliveries ------------------------------------------------------------------------------


def delivery_json(
    attempt: NotificationAttempt,
    channels: dict[int, tuple[str, str]],
    job_states: dict[str, tuple[int, str]],
) -> dict[str, Any]:
    out = notifications.attempt_dict(attempt)
    slug, connector = (
        channels.get(attempt.channel_id, (None, None))
        if attempt.channel_id is not None  # its channel deleted since
        else (None, None)
    )
    job_id, job_status = job_states.get(attempt.idempotency_key, (None, None))
    out.update(channel=slug, connector=connector, job_id=job_id, job_status=job_status)
    return out


def delivery_serializer(db, attempts: list[NotificationAttempt]):
    """One function serialising a page of attempts, with their channels and jobs read in two queries."""
    channels = {
        cid: (slug, connector)
        for cid, slug, connector in db.execute(
            select(Channel.id, Channel.slug, Channel.connector)
        ).all()
    }
    job_states = delivery_queries.notify_jobs(db, attempts)
    return lambda attempt: delivery_json(attempt, channels, job_states)


@bp.get("/deliveries")
@operation(
    "List notification delivery attempts",
    tag="deliveries",
    query=s.DeliveriesQuerySchema,
    ok=(200, s.DeliveryPageSchema, "A page of attempts, newest first."),
)
def list_deliveries(query):
    """Every attempt a notification channel (email, outbound webhook …) made to deliver an
    order event: `outcome` `sent`, `failed` (with the receiver's `status_code` and the
    `error`; the `notify` job retries it, `job_status` says how that goes) or `skipped`
    (nothing to send, e.g. an order without an email address). An event is delivered at
    most once per channel: `attempt` counts the tries."""
    filters = delivery_queries.DeliveryFilters(
        channel=query.get("channel"),
        order_id=query.get("order_id"),
        event=query.get("event"),
        outcome=query.get("outcome"),
    )
    with get_hub().db.read() as db:
        # One pass to find the page, a second for its channels and jobs: a page costs three queries.
        found = delivery_queries.search_attempts(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        return jsonify(cursor_page(found, delivery_serializer(db, found.rows)))


@bp.get(f"/deliveries/<{ID}:attempt_id>")
@operation(
    "Get a notification delivery attempt",
    tag="deliveries",
    ok=(200, s.DeliverySchema, "The attempt."),
)
def get_delivery(attempt_id: int):
    with get_hub().db.read() as db:
        attempt = _get(db, NotificationAttempt, attempt_id, "delivery attempt")
        return jsonify(delivery_serializer(db, [attempt])(attempt))
