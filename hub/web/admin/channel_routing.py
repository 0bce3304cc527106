"""A sales channel's routing strategy on its page (as ``PUT /api/v1/channels/<id>/routing``)."""

from __future__ import annotations

import logging

from flask import flash, g, redirect, request, url_for

from hub.core.exceptions import HubError
from hub.routing import strategies
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.admin import bp

log = logging.getLogger(__name__)

#: The strategies, in words, for the channel's page.
STRATEGY_CHOICES = tuple(
    (name, f"{name.capitalize()}: {strategies.STRATEGY_WORDS[name]}")
    for name in strategies.STRATEGIES
)


@bp.post("/channels/<int:channel_id>/routing")
def channel_routing(channel_id: int):
    """Set which locations ship the channel's orders: by priority, the nearest or the cheapest."""
    back = url_for("admin.channel_edit", channel_id=channel_id)
    try:
        with get_hub().db.transaction() as db:
            channel = db.get(Channel, channel_id)
            if channel is None:
                flash(f"Channel {channel_id} does not exist.", "error")
                return redirect(url_for("admin.channels"))
            name = channel.name
            strategy = strategies.set_strategy(db, channel_id, request.form.get("strategy", ""))
    except HubError as exc:
        flash(exc.message, "error")
    else:
        log.info("routing of channel %s set by %s: %s", channel_id, g.user.email, strategy)
        flash(f"Routing of “{name}” saved: {strategy}.", "success")
    return redirect(back)
