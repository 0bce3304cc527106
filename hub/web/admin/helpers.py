"""Small helpers shared by the admin views."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import flash, g, request
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from hub.core.exceptions import HubError
from hub.orders.timeline_words import ChannelName, actor_words
from hub.store.models import Channel
from hub.store.queries import Found
from hub.web import get_hub

log = logging.getLogger(__name__)

PAGE_SIZE = 50


def flash_error(exc: BaseException) -> None:
    """Tell the person what went wrong, in words they can act on.

    The hub's own errors carry such words; anything else is logged in full and
    shown by its kind only (its text may hold internals).
    """
    if isinstance(exc, HubError):
        flash(exc.message, "error")
    elif isinstance(exc, StaleDataError):
        flash("Someone else changed this meanwhile; look again and retry.", "error")
    else:
        log.exception("admin action failed")
        flash(f"Unexpected error ({exc.__class__.__name__}); the log has the details.", "error")


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return default
    return target


def int_arg(name: str, default: int = 1, minimum: int = 1) -> int:
    try:
        return max(minimum, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Page:
    items: list
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(session, query, *, size: int = PAGE_SIZE) -> Page:
    """One page of ``query`` (the ``page`` query argument), with the total count."""
    number = int_arg("page")
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(size).offset((number - 1) * size)))
    return Page(items, number, size, total or 0)


def page_of(read: Callable[..., Found[Any]], *, size: int = PAGE_SIZE) -> Page:
    """One page of a capability's list (the ``page`` query argument), with the total count.

    ``read`` is the capability's list function with its filters bound; it takes
    ``limit``, ``offset`` and ``with_total``.
    """
    number = int_arg("page")
    found = read(limit=size, offset=(number - 1) * size, with_total=True)
    return Page(found.rows, number, size, found.total or 0)


def whole_number(raw: str) -> int | str:
    """A form's whole number (``-3``, ``12``) as an int; anything else as typed, so that the
    API's schema refuses it with the field named."""
    return int(raw) if re.fullmatch(r"-?[0-9]+", raw) else raw


def page_url_args(**overrides) -> dict:
    """The current query arguments with some changed (for paging links)."""
    args = {k: v for k, v in request.args.items() if v}
    args.update({k: v for k, v in overrides.items()})
    return args


def channel_names() -> dict[str, ChannelName]:
    """Every channel by slug, with its connector's name for people; read once per request."""
    if "channel_names" not in g:
        hub = get_hub()
        with hub.db.read() as db:
            rows = db.execute(select(Channel.slug, Channel.name, Channel.connector)).all()
        g.channel_names = {
            slug: ChannelName(name, _connector_label(hub.connectors.get(connector), connector))
            for slug, name, connector in rows
        }
    names: dict[str, ChannelName] = g.channel_names
    return names


def _connector_label(cls, name: str) -> str:
    return (cls.label or cls.name) if cls is not None else name


def people_actor_words(actor: str | None) -> str:
    """Who did it, in words (:func:`hub.orders.timeline_words.actor_words`), for any page."""
    if actor and actor.startswith("channel:"):
        return actor_words(actor, channel_names())
    return actor_words(actor)
