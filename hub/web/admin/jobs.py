"""Jobs with their dead letters and retry; the webhook inbox with replay."""

from __future__ import annotations

from functools import partial

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.channels import inbox
from hub.channels.queries import WebhookEventFilters, search_webhook_events, webhook_status_counts
from hub.core.exceptions import ValidationError
from hub.pipeline import alerts
from hub.queue import jobs as job_service
from hub.queue.queries import JobFilters, search_jobs
from hub.queue.queries import kinds as job_kinds
from hub.queue.queries import status_counts as job_status_counts
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import PAGE_SIZE, Page, flash_error, page_of, safe_next

INBOX_STATUSES = ("received", "processed", "ignored", "rejected", "failed")


@bp.app_context_processor
def ops_alarm() -> dict[str, object]:
    """The top bar's red badge (dead jobs, failing channels) on every admin page, signed in."""
    if getattr(g, "user", None) is None or not (request.endpoint or "").startswith("admin."):
        return {}
    with get_hub().db.read() as db:
        return {"ops_alarm": alerts.current_alarm(db)}


@bp.get("/jobs")
def jobs():
    status = request.args.get("status", "")
    status = status if status in job_service.STATUSES else ""
    kind = (request.args.get("kind") or "").strip()
    channel_id = request.args.get("channel", type=int)
    filters = JobFilters(status=status or None, kind=kind or None, channel_id=channel_id)
    with get_hub().db.read() as db:
        # "Retry all" is offered for one kind's dead letters, with their count to confirm.
        dead_of_kind = job_service.dead_count(db, kind, channel_id) if kind else 0
        # Dead letters and failures: newest trouble first; otherwise newest job first.
        page = page_of(partial(search_jobs, db, filters, trouble_first=True))
        names = dict(db.execute(select(Channel.id, Channel.name)).all())
        return render_template(
            "admin/jobs.html",
            page=page,
            status=status,
            kind=kind,
            kinds=job_kinds(db),
            counts=job_status_counts(db),
            statuses=job_service.STATUSES,
            channel_names=names,
            channel_id=channel_id,
            dead_of_kind=dead_of_kind,
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


@bp.post("/jobs/retry-dead")
def jobs_retry_dead():
    """Queue every dead job of one kind (and of one channel, if given) again."""
    kind = (request.form.get("kind") or "").strip()
    channel_id = request.form.get("channel", type=int)
    back = safe_next(request.form.get("next"), url_for("admin.jobs", status="dead", kind=kind))
    if not kind:
        flash("Pick a kind of job first: retry all works on one kind at a time.", "error")
        return redirect(back)
    with get_hub().db.transaction() as db:
        queued = job_service.retry_dead(db, kind, channel_id)
    noun = "job" if queued == 1 else "jobs"
    flash(f"{queued} dead {kind} {noun} queued again by {g.user.email}.", "success")
    return redirect(back)


@bp.get("/inbox")
def webhook_inbox():
    status = request.args.get("status", "")
    status = status if status in INBOX_STATUSES else ""
    channel = request.args.get("channel", "")
    filters = WebhookEventFilters(channel=channel or None, status=status or None)
    with get_hub().db.read() as db:
        channels = list(db.scalars(select(Channel).order_by(Channel.name)))
        try:
            page = page_of(partial(search_webhook_events, db, filters))
        except ValidationError as exc:  # a channel that is no more: say so, list nothing
            flash(exc.message, "error")
            page = Page([], 1, PAGE_SIZE, 0)
        return render_template(
            "admin/inbox.html",
            page=page,
            status=status,
            channel=channel,
            channels=channels,
            by_id={c.id: c for c in channels},
            statuses=INBOX_STATUSES,
            counts=webhook_status_counts(db),
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
