"""Customer messages previewed in the admin: pick a channel, a message and a language, see
the HTML and the plain text a sample order gets, and send it to an address as a test.

Any notification channel whose connector declares :attr:`Capability.PREVIEW` (the
bundled ``email`` connector) is offered. The HTML is shown in a sandboxed frame of
its own (no scripts, no forms, its own Content-Security-Policy that lets the
email's inline styles and https images show), never inside the admin page.
"""

from __future__ import annotations

import logging
import os
from typing import Any, cast

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.core.exceptions import HubError
from hub.core.images import image_subtype
from hub.integration.connectors import Capability, PreviewsMessages, can
from hub.store.files import private_dir, private_file
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error

log = logging.getLogger(__name__)

#: The languages by name, for the choice (the code when a catalogue's language is not here).
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch (German)"}

#: The uploaded logo's file in the channel's private folder (the email connector reads it).
LOGO_FILE = "email-logo"
#: An email logo larger than this weighs on every message sent.
LOGO_MAX_BYTES = 200_000

#: The sample message's own page: the email's inline styles and https images, nothing else.
FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox"
)


def _channels() -> list[tuple[int, str, Any]]:
    """The channels that preview their messages, as (id, name, connector)."""
    hub = get_hub()
    found = []
    with hub.db.read() as db:
        for channel in db.scalars(select(Channel).order_by(Channel.name)):
            try:
                if not can(hub.connector_class(channel.connector), Capability.PREVIEW):
                    continue
                connector = hub.connector_for(channel)
            except Exception:  # noqa: BLE001  (a channel that cannot be built is not offered)
                log.warning("channel %s cannot be previewed", channel.id, exc_info=True)
                continue
            found.append((channel.id, channel.name, connector))
    return found


def _choice(channels: list[tuple[int, str, Any]], source) -> dict[str, Any]:
    """The channel, message and language asked for (else the first of each)."""
    raw = (source.get("channel") or "").strip()
    chosen = next((c for c in channels if str(c[0]) == raw), None) or channels[0]
    connector = cast(PreviewsMessages, chosen[2])
    messages = connector.preview_messages()
    languages = connector.preview_languages()
    message = source.get("message") or messages[0][0]
    language = source.get("language") or languages[0]
    if message not in dict(messages):
        message = messages[0][0]
    if language not in languages:
        language = languages[0]
    return {
        "channel_id": chosen[0],
        "channel_name": chosen[1],
        "connector": connector,
        "messages": messages,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
        "message": message,
        "language": language,
    }


@bp.get("/email-preview")
def email_preview():
    """The preview page: the choice, the headers, the HTML (framed) and the text."""
    channels = _channels()
    if not channels:
        return render_template("admin/email_preview.html", channels=[], choice=None)
    choice = _choice(channels, request.args)
    preview, error = None, None
    try:
        preview = choice["connector"].preview(choice["message"], choice["language"])
    except HubError as exc:
        error = exc.message
    return render_template(
        "admin/email_preview.html",
        channels=[(cid, name) for cid, name, _ in channels],
        choice=choice,
        preview=preview,
        error=error,
    )


@bp.get("/email-preview/<message>/<language>/frame")
def email_preview_frame(message: str, language: str):
    """The sample message's HTML alone, for the preview page's sandboxed frame."""
    channels = _channels()
    if not channels:
        abort(404)
    choice = _choice(channels, {**request.args, "message": message, "language": language})
    if (choice["message"], choice["language"]) != (message, language):
        abort(404)
    try:
        preview = choice["connector"].preview(message, language)
    except HubError:
        abort(404)
    response = make_response(preview.html)
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = FRAME_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/email-preview/send")
def email_preview_send():
    """Send the previewed message to the address the merchant typed, marked a test."""
    channels = _channels()
    if not channels:
        abort(404)
    choice = _choice(channels, request.form)
    to = (request.form.get("to") or "").strip()
    back = {
        "channel": choice["channel_id"],
        "message": choice["message"],
        "language": choice["language"],
    }
    try:
        answer = choice["connector"].send_preview(choice["message"], choice["language"], to)
    except Exception as exc:  # noqa: BLE001  (the merchant sees why: SMTP refused, bad address)
        if isinstance(exc, HubError):
            flash(f"The test message was not sent: {exc.message}", "error")
        else:
            flash_error(exc)
        return redirect(url_for("admin.email_preview", **back))
    log.info(
        "test message %s (%s) of channel %s sent by %s",
        choice["message"],
        choice["language"],
        choice["channel_id"],
        g.user.email,
    )
    flash(f"Test message {answer}.", "success")
    return redirect(url_for("admin.email_preview", **back))


@bp.post("/email-preview/logo")
def email_preview_logo():
    """Upload the channel's logo (PNG, JPEG or GIF), kept in its private folder; or remove it."""
    channels = _channels()
    if not channels:
        abort(404)
    choice = _choice(channels, request.form)
    back = url_for("admin.email_preview", channel=choice["channel_id"])
    folder = choice["connector"].channel.files_dir
    if folder is None:
        abort(404)
    path = folder / LOGO_FILE
    if request.form.get("remove"):
        path.unlink(missing_ok=True)
        log.info("email logo of channel %s removed by %s", choice["channel_id"], g.user.email)
        flash("Logo removed: the emails show the logo address or the sender name again.", "success")
        return redirect(back)
    upload = request.files.get("logo")
    data = upload.read(LOGO_MAX_BYTES + 1) if upload else b""
    if not data:
        flash("Choose a logo file (PNG, JPEG or GIF) to upload.", "error")
    elif len(data) > LOGO_MAX_BYTES:
        flash(f"The logo is larger than {LOGO_MAX_BYTES // 1000} KB: nothing was saved.", "error")
    elif image_subtype(data) is None:
        flash("That file is not a PNG, JPEG or GIF image: nothing was saved.", "error")
    else:
        # Written beside, then moved in place: a reader sees the old logo or the new one.
        private_dir(folder)
        partial = private_file(folder / f"{LOGO_FILE}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
        log.info("email logo of channel %s uploaded by %s", choice["channel_id"], g.user.email)
        flash("Logo saved: every email of this channel carries it inside the message.", "success")
    return redirect(back)
