"""A sales channel's returns policy on its page: the return window, final-sale SKUs,
the approval rule and when an exchange ships (as ``PUT /api/v1/channels/<id>/return-policy``)."""

from __future__ import annotations

import logging

from flask import flash, g, redirect, request, url_for

from hub.core.exceptions import HubError, ValidationError
from hub.returns import policy as return_policy
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import safe_next

log = logging.getLogger(__name__)

#: When an exchange's replacement ships, in words.
EXCHANGE_CHOICES = (
    ("on_receipt", "When the returned goods are received"),
    ("at_once", "At once, when the return is approved"),
)


def _days(name: str, words: str) -> int:
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit():
        raise ValidationError(
            f"{words}: {raw!r} is not a number of days", details={name: ["a whole number of days"]}
        )
    return int(raw)


@bp.post("/channels/<int:channel_id>/returns")
def channel_returns(channel_id: int):
    """Set what the channel's customers may return on the tracking page, and the rule."""
    back = safe_next(request.form.get("next"), url_for("admin.channel_edit", channel_id=channel_id))
    try:
        window = _days("window_days", "return window")
        rule_days = _days("auto_approve_days", "approve alone within")
        skus = [
            s.strip()
            for s in (request.form.get("final_sale_skus") or "").replace("\n", ",").split(",")
            if s.strip()
        ]
        with get_hub().db.transaction() as db:
            channel = db.get(Channel, channel_id)
            if channel is None:
                flash(f"Channel {channel_id} does not exist.", "error")
                return redirect(url_for("admin.channels"))
            name = channel.name
            return_policy.set_policy(
                db,
                channel_id,
                window_days=window,
                final_sale_skus=skus,
                auto_approve=request.form.get("auto_approve") == "on",
                auto_approve_days=rule_days,
                auto_approve_max=(request.form.get("auto_approve_max") or "").strip() or None,
                exchange_ships=request.form.get("exchange_ships", ""),
            )
    except HubError as exc:
        flash(exc.message, "error")
    else:
        log.info("returns policy of channel %s set by %s", channel_id, g.user.email)
        flash(f"Returns of “{name}” saved.", "success")
    return redirect(back)
