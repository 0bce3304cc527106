"""The back office in the admin UI: ERP files exchanged, and notifications delivered (or not).

Both pages read ledgers other parts write (:mod:`hub.channels.erp_ledgers` for the ``erp_csv``
connector's files, :mod:`hub.notifications.outbox` for every email and outbound
webhook attempt); the only action is retrying a notification's job, which is
the jobs page's own form.
"""

from __future__ import annotations

from flask import abort, render_template, request, send_file
from sqlalchemy import func, select

from hub.channels import erp_ledgers as erp
from hub.core.exceptions import NotFound
from hub.store.models import Channel, ErpExport, ErpImport, Job, NotificationAttempt, Order
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import paginate

ERP_FILE_STATUSES = ("processing", "succeeded", "partial", "failed", "duplicate")
DELIVERY_OUTCOMES = ("sent", "failed", "skipped")
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
    channel = request.args.get("channel", "")
    query = select(ErpImport).order_by(ErpImport.id.desc())
    if status in ERP_FILE_STATUSES:
        query = query.where(ErpImport.status == status)
    else:
        status = ""
    with get_hub().db.read() as db:
        channels = _channels_with_role(db, "erp")
        by_slug = {c.slug: c for c in channels}
        if channel in by_slug:
            query = query.where(ErpImport.channel_id == by_slug[channel].id)
        else:
            channel = ""
        page = paginate(db, query)
        counts = dict(
            db.execute(select(ErpImport.status, func.count()).group_by(ErpImport.status)).all()
        )
        exports = list(
            db.scalars(select(ErpExport).order_by(ErpExport.id.desc()).limit(RECENT_EXPORTS))
        )
        names = dict(db.execute(select(Channel.id, Channel.name)).all())
        return render_template(
            "admin/erp_files.html",
            page=page,
            status=status,
            channel=channel,
            channels=channels,
            statuses=ERP_FILE_STATUSES,
            counts=counts,
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
    with get_hub().db.read() as db:
        try:
            path = erp.rejects_path(db, file_id)
        except NotFound:
            abort(404)
        name = f"{db.get(ErpImport, file_id).file_name}.rejects.csv"
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=name, max_age=0)


@bp.get("/deliveries")
def deliveries():
    outcome = request.args.get("outcome", "")
    channel = request.args.get("channel", "")
    event = (request.args.get("event") or "").strip()
    query = select(NotificationAttempt).order_by(NotificationAttempt.id.desc())
    if outcome in DELIVERY_OUTCOMES:
        query = query.where(NotificationAttempt.outcome == outcome)
    else:
        outcome = ""
    if event:
        query = query.where(NotificationAttempt.event_name == event)
    with get_hub().db.read() as db:
        channels = _channels_with_role(db, "notification")
        by_slug = {c.slug: c for c in channels}
        if channel in by_slug:
            query = query.where(NotificationAttempt.channel_id == by_slug[channel].id)
        else:
            channel = ""
        page = paginate(db, query)
        counts = dict(
            db.execute(
                select(NotificationAttempt.outcome, func.count()).group_by(
                    NotificationAttempt.outcome
                )
            ).all()
        )
        events = list(
            db.scalars(
                select(NotificationAttempt.event_name)
                .distinct()
                .order_by(NotificationAttempt.event_name)
            )
        )
        context = delivery_context(db, page.items)
        return render_template(
            "admin/deliveries.html",
            page=page,
            outcome=outcome,
            channel=channel,
            event=event,
            events=events,
            channels=channels,
            outcomes=DELIVERY_OUTCOMES,
            counts=counts,
            **context,
        )


def delivery_context(db, attempts: list[NotificationAttempt]) -> dict:
    """Channel names, order numbers and ``notify`` jobs of a page of attempts (three queries)."""
    names = dict(db.execute(select(Channel.id, Channel.name)).all())
    order_ids = {a.order_id for a in attempts if a.order_id}
    numbers = (
        dict(db.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all())
        if order_ids
        else {}
    )
    keys = {a.idempotency_key for a in attempts}
    jobs = (
        {
            key: (job_id, status)
            for key, job_id, status in db.execute(
                select(Job.dedupe_key, Job.id, Job.status).where(Job.dedupe_key.in_(keys))
            ).all()
        }
        if keys
        else {}
    )
    return {"channel_names": names, "order_numbers": numbers, "jobs": jobs}


def order_deliveries(db, order_id: int, limit: int = 20) -> dict:
    """The newest delivery attempts of one order, for its page."""
    attempts = list(
        db.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.order_id == order_id)
            .order_by(NotificationAttempt.id.desc())
            .limit(limit)
        )
    )
    return {
        "deliveries": attempts,
        "delivery_context": delivery_context(db, attempts) if attempts else {},
    }
