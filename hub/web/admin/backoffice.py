"""The back office in the admin UI: ERP files exchanged, and notifications delivered (or not).

Both pages read ledgers other parts write (:mod:`hub.channels.erp_ledgers` for the ``erp_csv``
connector's files, :mod:`hub.notifications.outbox` for every email and outbound
webhook attempt); the only action is retrying a notification's job, which is
the jobs page's own form.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import abort, render_template, request, send_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.channels import erp_ledgers as erp
from hub.channels.queries import (
    ERP_FILE_STATUSES,
    ErpFileFilters,
    erp_file_status_counts,
    search_erp_exports,
    search_erp_files,
)
from hub.core.exceptions import NotFound
from hub.notifications.queries import OUTCOMES as DELIVERY_OUTCOMES
from hub.notifications.queries import (
    DeliveryFilters,
    event_names,
    notify_jobs,
    outcome_counts,
    search_attempts,
)
from hub.store.models import Channel, ErpImport, NotificationAttempt, Order
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import page_of

#: Order files written shown under the stock files (the API pages through all of them).
RECENT_EXPORTS = 20


def _channels_with_role(db, role: str) -> list[Channel]:
    connectors = get_hub().connectors
    return [
        c
        for c in db.scalars(select(Channel).order_by(Channel.name))
        if role in getattr(connectors.get(c.connector), "roles", ())
    ]


@bp.get("/erp")
def erp_files():
    status = request.args.get("status", "")
    status = status if status in ERP_FILE_STATUSES else ""
    channel = request.args.get("channel", "")
    with get_hub().db.read() as db:
        channels = _channels_with_role(db, "erp")
        channel = channel if channel in {c.slug for c in channels} else ""
        filters = ErpFileFilters(channel=channel or None, status=status or None)
        page = page_of(partial(search_erp_files, db, filters))
        exports = search_erp_exports(db, limit=RECENT_EXPORTS).rows
        names = dict(db.execute(select(Channel.id, Channel.name)).all())
        return render_template(
            "admin/erp_files.html",
            page=page,
            status=status,
            channel=channel,
            channels=channels,
            statuses=ERP_FILE_STATUSES,
            counts=erp_file_status_counts(db),
            exports=exports,
            channel_names=names,
        )


@bp.get("/erp/<int:file_id>")
def erp_file(file_id: int):
    with get_hub().db.read() as db:
        row = db.get(ErpImport, file_id)
        if row is None:
            abort(404)
        channel = db.get(Channel, row.channel_id)
        return render_template("admin/erp_file.html", file=erp.import_dict(row), channel=channel)


@bp.get("/erp/<int:file_id>/rejects.csv")
def erp_file_rejects(file_id: int):
    hub = get_hub()
    with hub.db.read() as db:
        try:
            found = erp.rejects_download(db, file_id, root=hub.settings.erp_folder)
        except NotFound:
            abort(404)
    return send_file(
        found.path, mimetype="text/csv", as_attachment=True, download_name=found.name, max_age=0
    )


@bp.get("/deliveries")
def deliveries():
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in DELIVERY_OUTCOMES else ""
    channel = request.args.get("channel", "")
    event = (request.args.get("event") or "").strip()
    with get_hub().db.read() as db:
        channels = _channels_with_role(db, "notification")
        channel = channel if channel in {c.slug for c in channels} else ""
        filters = DeliveryFilters(
            channel=channel or None, event=event or None, outcome=outcome or None
        )
        page = page_of(partial(search_attempts, db, filters))
        context = delivery_context(db, page.items)
        return render_template(
            "admin/deliveries.html",
            page=page,
            outcome=outcome,
            channel=channel,
            event=event,
            events=event_names(db),
            channels=channels,
            outcomes=DELIVERY_OUTCOMES,
            counts=outcome_counts(db),
            **context,
        )


def delivery_context(db: Session, attempts: list[NotificationAttempt]) -> dict[str, Any]:
    """Channel names, order numbers and ``notify`` jobs of a page of attempts (three queries)."""
    names = dict(db.execute(select(Channel.id, Channel.name)).all())
    order_ids = {a.order_id for a in attempts if a.order_id}
    numbers = (
        dict(db.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all())
        if order_ids
        else {}
    )
    return {"channel_names": names, "order_numbers": numbers, "jobs": notify_jobs(db, attempts)}


def order_deliveries(db: Session, order_id: int, limit: int = 20) -> dict[str, Any]:
    """The newest delivery attempts of one order, for its page."""
    attempts = search_attempts(db, DeliveryFilters(order_id=order_id), limit=limit).rows
    return {
        "deliveries": attempts,
        "delivery_context": delivery_context(db, attempts) if attempts else {},
    }
