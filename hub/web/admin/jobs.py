"""Jobs with their dead letters and retry; the webhook inbox with replay."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from hub.channels import inbox
from hub.queue import jobs as job_service
from hub.store.models import Channel, Job, WebhookEvent
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, paginate, safe_next

INBOX_STATUSES = ("received", "processed", "ignored", "rejected", "failed")


@bp.get("/jobs")
def jobs():
    status = request.args.get("status", "")
    kind = (request.args.get("kind") or "").strip()
    query = select(Job)
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    # Dead letters and failures: newest trouble first; otherwise newest job first.
    query = (
        query.order_by(Job.updated_at.desc(), Job.id.desc())
        if status in ("dead", "failed")
        else query.order_by(Job.id.desc())
    )
    with get_hub().db.read() as db:
        page = paginate(db, query)
        counts = dict(db.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        kinds = list(db.scalars(select(Job.kind).distinct().order_by(Job.kind)))
        names = dict(db.execute(select(Channel.id, Channel.name)).all())
        return render_template(
            "admin/jobs.html",
            page=page,
            status=status,
            kind=kind,
            kinds=kinds,
            counts=counts,
            statuses=job_service.STATUSES,
            channel_names=names,
        )


@bp.post("/jobs/<int:job_id>/retry")
def job_retry(job_id: int):
    back = safe_next(request.form.get("next"), url_for("admin.jobs", status="dead"))
    try:
        with get_hub().db.transaction() as db:
            job = job_service.retry(db, job_id)
            kind = job.kind
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(f"Job {job_id} ({kind}) queued again by {g.user.email}.", "success")
    return redirect(back)


@bp.get("/inbox")
def webhook_inbox():
    status = request.args.get("status", "")
    channel = request.args.get("channel", "")
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc())
    if status:
        query = query.where(WebhookEvent.status == status)
    if channel:
        query = query.join(Channel, Channel.id == WebhookEvent.channel_id).where(
            Channel.slug == channel
        )
    with get_hub().db.read() as db:
        page = paginate(db, query)
        channels = list(db.scalars(select(Channel).order_by(Channel.name)))
        counts = dict(
            db.execute(
                select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
            ).all()
        )
        by_id = {c.id: c for c in channels}
        return render_template(
            "admin/inbox.html",
            page=page,
            status=status,
            channel=channel,
            channels=channels,
            by_id=by_id,
            statuses=INBOX_STATUSES,
            counts=counts,
        )


@bp.post("/inbox/<int:event_id>/replay")
def webhook_replay(event_id: int):
    back = safe_next(request.form.get("next"), url_for("admin.webhook_inbox"))
    try:
        inbox.replay(get_hub(), event_id)
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(f"Webhook event {event_id} will be processed again.", "success")
    return redirect(back)
