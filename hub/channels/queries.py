"""What the channels left behind, read the same way by the API and the admin UI.

The webhook inbox (:mod:`hub.channels.inbox` writes it) and the ERP ledgers
(:mod:`hub.channels.erp_ledgers`, written by the ``erp_csv`` connector). A
channel is named by its slug; an unknown slug is a
:class:`~hub.core.exceptions.ValidationError` naming ``channel``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from hub.store.models import ErpExport, ErpImport, WebhookEvent
from hub.store.queries import Found, channel_id_for_slug, fetch

# --- the webhook inbox -------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEventFilters:
    """What the inbox can be narrowed by; the filters given combine with AND."""

    #: A channel's slug.
    channel: str | None = None
    status: str | None = None


def webhook_events_statement(
    session: Session, filters: WebhookEventFilters = WebhookEventFilters()
) -> Select[WebhookEvent]:
    """The inbound webhooks the filters select, unordered, each with its channel."""
    statement = select(WebhookEvent).options(joinedload(WebhookEvent.channel))
    if filters.channel:
        statement = statement.where(
            WebhookEvent.channel_id == channel_id_for_slug(session, filters.channel)
        )
    if filters.status:
        statement = statement.where(WebhookEvent.status == filters.status)
    return statement


def search_webhook_events(
    session: Session,
    filters: WebhookEventFilters = WebhookEventFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[WebhookEvent]:
    """The inbox, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        webhook_events_statement(session, filters),
        WebhookEvent.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def webhook_status_counts(session: Session) -> dict[str, int]:
    """How many inbound webhooks are in each status."""
    return dict(
        session.execute(
            select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
        ).all()
    )


# --- the ERP ledgers ---------------------------------------------------------------------


#: What became of a stock file the ERP sent (the import ledger's ``status``).
ERP_FILE_STATUSES = ("processing", "succeeded", "partial", "failed", "duplicate")


@dataclass(frozen=True)
class ErpFileFilters:
    """What the stock files imported can be narrowed by."""

    #: A channel's slug.
    channel: str | None = None
    status: str | None = None


def search_erp_files(
    session: Session,
    filters: ErpFileFilters = ErpFileFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[ErpImport]:
    """Stock files an ERP channel found (and what became of them), newest first."""
    statement = select(ErpImport)
    if filters.channel:
        statement = statement.where(
            ErpImport.channel_id == channel_id_for_slug(session, filters.channel)
        )
    if filters.status:
        statement = statement.where(ErpImport.status == filters.status)
    return fetch(
        session,
        statement,
        ErpImport.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def erp_file_status_counts(session: Session) -> dict[str, int]:
    """How many stock files are in each status."""
    return dict(
        session.execute(select(ErpImport.status, func.count()).group_by(ErpImport.status)).all()
    )


def search_erp_exports(
    session: Session,
    *,
    channel: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[ErpExport]:
    """Order files an ERP channel wrote, newest first; ``channel`` is a slug."""
    statement = select(ErpExport)
    if channel:
        statement = statement.where(ErpExport.channel_id == channel_id_for_slug(session, channel))
    return fetch(
        session,
        statement,
        ErpExport.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )
