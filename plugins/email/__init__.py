"""The ``email`` connector: the customer hears about their order by email, over SMTP.

Templates (Jinja2, HTML with a plain-text alternative) for order confirmed,
shipped (also partially), delivered, cancelled and refunded, and for an invoice
or credit note issued, live in ``templates/``
(also the satisfaction check and the review request that follow delivery: these
two carry an unsubscribe link and the List-Unsubscribe header); a channel's ``templates_dir``
overrides any of them by name. An invoice's or credit note's email carries its
PDF: the connector declares :attr:`Capability.ATTACHMENTS`, so the hub hands
``notify`` the files that go with an event, each added as a part of its own.

Exactly one email per (order, event), whatever the retries: the ``notify``
job checks the sent ledger before calling :meth:`EmailConnector.notify` and
writes it right after (see :mod:`hub.notifications.outbox`), and the Message-ID is
derived from the idempotency key, so in the one crash window left (the SMTP
server accepted the message, the hub died before writing the ledger) the copy
sent on the retry carries the same Message-ID as the first.

Connections are kept open between emails: a worker sending the next email
of a channel takes an idle connection (checked with ``NOOP``) instead of
connecting, greeting, starting TLS and logging in again. A connection is
kept for at most :data:`IDLE_SECONDS` idle and :data:`MESSAGES_PER_CONNECTION`
messages, and never after an error.

Unless the hub allows private targets (``HUB_ALLOW_PRIVATE_TARGETS``), an SMTP
host on a loopback, private or link-local address is refused before connecting,
with the same answer whatever the port (see :mod:`hub.integration.targets`).

Transient SMTP trouble (connection refused, timeouts, a dropped connection, 4xx
replies) raises a retryable :class:`ExternalError`: the job retries with
backoff. A permanent refusal (5xx: unknown mailbox, rejected sender, bad
password) is not retryable: the job goes dead with the server's answer.
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from hub import hookimpl
from hub.core.events import OrderEvent
from hub.core.exceptions import ConfigError, ExternalError
from hub.core.exceptions import ValidationError as ValidationError_
from hub.core.images import image_subtype
from hub.integration.connectors import (
    Attachment,
    Capability,
    Delivery,
    MessagePreview,
    NotificationConnector,
)
from hub.integration.fields import StringList
from hub.integration.targets import TargetRefused, refuse_non_public
from plugins.email.i18n import choose, languages
from plugins.email.preview import MESSAGE_WORDS, sample_event, sample_order
from plugins.email.render import (
    DEFAULT_EVENTS,
    EVENT_TEMPLATES,
    LOGO_CID,
    UNSUBSCRIBABLE,
    Brand,
    Renderer,
    build_message,
    message_id,
)

SECURITY = ("none", "starttls", "ssl")
#: The logo uploaded in the admin, in the channel's private folder (``files_dir``;
#: hub.web.admin.email_preview writes it).
LOGO_FILE = "email-logo"
#: Idle connections kept per channel for the next emails, closed after this long unused:
#: well under the idle timeouts of mail servers (Postfix: 300 s).
KEEP_IDLE = 4
IDLE_SECONDS = 30.0
#: Messages sent on one connection before it is closed (providers limit it, often to 100).
MESSAGES_PER_CONNECTION = 50


class EmailConfig(Schema):
    smtp_host = fields.String(
        required=True,
        validate=validate.Length(1, 255),
        metadata={"label": "SMTP host", "help": "Your mail server or provider (smtp.example.com)."},
    )
    smtp_port = fields.Integer(
        load_default=587,
        validate=validate.Range(1, 65535),
        metadata={"label": "SMTP port", "help": "587 for STARTTLS, 465 for SSL, 25 for none."},
    )
    security = fields.String(
        load_default="starttls",
        validate=validate.OneOf(SECURITY),
        metadata={
            "label": "Security",
            "help": "starttls (port 587), ssl (port 465) or none (a relay on a trusted network only).",
        },
    )
    username = fields.String(
        load_default="",
        metadata={"label": "Username", "help": "Leave empty if the server needs no login."},
    )
    password = fields.String(
        load_default="",
        metadata={"label": "Password", "secret": True, "help": "The SMTP password or API key."},
    )
    from_address = fields.Email(
        required=True,
        metadata={
            "label": "From address",
            "help": "The sender customers see (orders@your-shop.com).",
        },
    )
    from_name = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={
            "label": "From name",
            "help": "The sender's name customers see (your shop's name).",
        },
    )
    reply_to = fields.String(
        load_default="",
        metadata={
            "label": "Reply-to address",
            "help": "Where customers' replies go, if not the from address.",
        },
    )
    events = StringList(
        load_default=lambda: list(DEFAULT_EVENTS),
        choices=list(EVENT_TEMPLATES),
        metadata={
            "label": "Emails to send",
            "help": "Order events that send the customer an email: "
            + ", ".join(EVENT_TEMPLATES)
            + ". order.backordered is off unless ticked: the delay notice (order.delayed) "
            "tells the customer of a backorder.",
        },
    )
    default_language = fields.String(
        load_default="en",
        validate=validate.OneOf(languages()),
        metadata={
            "label": "Default language",
            "help": "The language of the emails when the order does not say the customer's "
            "(Shopify's customer locale): " + ", ".join(languages()) + ".",
        },
    )
    logo_url = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={
            "label": "Logo URL",
            "help": "An https:// address of your logo (PNG or JPEG, about 240×48 pixels), shown "
            "at the top of every email. Empty: the sender name instead.",
        },
    )
    brand_color = fields.String(
        load_default="#18181b",
        validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="must be a colour like #1d4ed8"),
        metadata={
            "label": "Brand colour",
            "help": "The colour of the emails' buttons and top bar, as #rrggbb.",
        },
    )
    templates_dir = fields.String(
        load_default="",
        metadata={
            "label": "Templates folder",
            "help": "Absolute path of a folder whose templates (e.g. shipped.html, shipped.subject.txt) "
            "replace the built-in ones of the same name. Leave empty for the built-in ones.",
        },
    )
    timeout_seconds = fields.Integer(
        load_default=20,
        validate=validate.Range(1, 120),
        metadata={"label": "Timeout (seconds)", "help": "How long to wait for the SMTP server."},
    )

    @validates("templates_dir")
    def _templates_dir(self, value, **kwargs):
        if value and not (os.path.isabs(value) and os.path.isdir(value)):
            raise ValidationError("must be the absolute path of an existing folder")

    @validates("logo_url")
    def _logo_url(self, value, **kwargs):
        if value and not value.startswith("https://"):
            raise ValidationError("must be an https:// address (mail clients block others)")
        if value:
            fields.Url(schemes={"https"}).deserialize(value)

    @validates("reply_to")
    def _reply_to(self, value, **kwargs):
        if value:
            fields.Email().deserialize(value)


class EmailConnector(NotificationConnector):
    name = "email"
    label = "Customer email (SMTP)"
    description = (
        "Emails customers when their order is confirmed, shipped, delivered, cancelled or"
        " refunded, and their invoices and credit notes as PDF."
    )
    config_schema = EmailConfig
    # An invoice's email carries its PDF; the admin previews every message.
    capabilities = frozenset({Capability.ATTACHMENTS, Capability.PREVIEW})

    def __init__(self, channel):
        super().__init__(channel)
        self.renderer = Renderer(self.config.get("templates_dir") or None)
        self._tls_context: ssl.SSLContext | None = None
        self._idle: list[_Connection] = []  # most recently used last
        self._idle_lock = threading.Lock()
        self._closed = False

    @property
    def server(self) -> str:
        return f"{self.config['smtp_host']}:{self.config['smtp_port']}"

    def wants(self, event_name: str) -> bool:
        return event_name in (self.config.get("events") or ()) and event_name in EVENT_TEMPLATES

    def notify(
        self,
        event: OrderEvent,
        order: dict[str, Any],
        *,
        idempotency_key: str,
        attachments: Sequence[Attachment] = (),
    ) -> Delivery:
        recipient = (order.get("customer") or {}).get("email") or order.get("email") or ""
        if not recipient:
            return Delivery(
                skipped=f"order {order.get('number') or order.get('id')} has no customer email"
            )
        brand = self.brand()
        rendered = self.render(event, order, brand=brand)
        msg_id = message_id(idempotency_key, self.config["from_address"])
        message = build_message(
            rendered,
            to=(order.get("customer") or {}).get("name") or "",
            to_address=recipient,
            from_name=self.config.get("from_name") or "",
            from_address=self.config["from_address"],
            reply_to=self.config.get("reply_to") or "",
            msg_id=msg_id,
            event=event.name,
            attachments=attachments,
            unsubscribe_url=str((event.data or {}).get("unsubscribe_url") or "")
            if event.name in UNSUBSCRIBABLE
            else "",
            logo=brand.logo_file,
        )
        try:
            self.send(message)
        except (ExternalError, ConfigError) as exc:
            exc.details["recipient"] = recipient
            raise
        return Delivery(recipient=recipient, message_id=msg_id, status_code=250)

    def uploaded_logo(self) -> tuple[bytes, str] | None:
        """The logo uploaded in the admin (the channel's private folder), if any."""
        folder = self.channel.files_dir
        if folder is None:
            return None
        try:
            data = (folder / LOGO_FILE).read_bytes()
        except FileNotFoundError:
            return None
        subtype = image_subtype(data)
        return (data, subtype) if subtype else None

    def brand(self, *, preview: bool = False) -> Brand:
        """The channel's look: an uploaded logo wins over ``logo_url``."""
        color = self.config.get("brand_color") or Brand.color
        logo = self.uploaded_logo()
        if logo is None:
            return Brand(logo_url=self.config.get("logo_url") or "", color=color)
        if preview:  # the admin's frame shows it from the page itself
            data = base64.b64encode(logo[0]).decode()
            return Brand(logo_url=f"data:image/{logo[1]};base64,{data}", color=color)
        return Brand(logo_url=f"cid:{LOGO_CID}", color=color, logo_file=logo)

    def render(
        self,
        event: OrderEvent,
        order: dict[str, Any],
        *,
        language: str = "",
        brand: Brand | None = None,
    ):
        """The email for an event, in the customer's language (or ``language`` when given)."""
        return self.renderer.render(
            event,
            order,
            shop_name=self.config.get("from_name") or "",
            public_url=self.channel.public_url,
            language=choose(
                language or order.get("locale") or "", self.config.get("default_language") or ""
            ),
            brand=brand or self.brand(),
        )

    # --- preview in the admin -------------------------------------------------------------

    def preview_messages(self) -> list[tuple[str, str]]:
        return [(name, MESSAGE_WORDS.get(name, name)) for name in EVENT_TEMPLATES]

    def preview_languages(self) -> list[str]:
        return list(languages())

    def _preview(self, event_name: str, language: str, *, frame: bool = False):
        if event_name not in EVENT_TEMPLATES:
            raise ValidationError_(f"the email connector sends no message for {event_name!r}")
        if language not in languages():
            raise ValidationError_(
                f"no emails are written in {language!r}: " + ", ".join(languages())
            )
        event = sample_event(event_name, self.channel.public_url)
        order = sample_order()
        brand = self.brand(preview=frame)
        rendered = self.render(event, order, language=language, brand=brand)
        message = build_message(
            rendered,
            to=order["customer"]["name"],
            to_address=order["customer"]["email"],
            from_name=self.config.get("from_name") or "",
            from_address=self.config["from_address"],
            reply_to=self.config.get("reply_to") or "",
            msg_id=message_id(
                f"preview:{event_name}:{time.time_ns()}", self.config["from_address"]
            ),
            event=event_name,
            unsubscribe_url=str(event.data.get("unsubscribe_url") or "")
            if event_name in UNSUBSCRIBABLE
            else "",
            logo=brand.logo_file,
        )
        return rendered, message

    def preview(self, event_name: str, language: str) -> MessagePreview:
        rendered, message = self._preview(event_name, language, frame=True)
        return MessagePreview(
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            language=rendered.language,
            headers={
                name: str(message[name])
                for name in ("From", "Reply-To", "Subject", "Content-Language")
                if message[name]
            },
        )

    def send_preview(self, event_name: str, language: str, to: str) -> str:
        try:
            address = fields.Email().deserialize((to or "").strip())
        except ValidationError as exc:
            raise ValidationError_(
                f"{to!r} is not an email address", details={"to": exc.messages}
            ) from None
        rendered, message = self._preview(event_name, language)
        # A test: the subject says so, and the message goes to the merchant's address only.
        del message["Subject"], message["To"]
        message["Subject"] = f"[Test] {rendered.subject}"
        message["To"] = address
        self.send(message)
        return f"sent to {address}"

    # --- SMTP ------------------------------------------------------------------------------

    def _tls(self) -> ssl.SSLContext:
        """The TLS context, made once: loading the system's CA certificates is slow."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    def _connect(self) -> smtplib.SMTP:
        host, port = self.config["smtp_host"], int(self.config["smtp_port"])
        if not self.channel.allow_private_targets:
            # Before any connection: a refused host says the same whatever its port.
            refuse_non_public(host, what="SMTP")
        timeout = float(self.config.get("timeout_seconds") or 20)
        security = self.config.get("security") or "starttls"
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            smtp.ehlo()
            if security == "starttls":
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if self.config.get("username"):
                smtp.login(self.config["username"], self.config.get("password") or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message) -> None:
        """Hand one message to the SMTP server; raise ExternalError saying whether to retry."""
        conn = self._take_idle()
        if conn is None:
            try:
                conn = _Connection(self._connect())
            except Exception as exc:
                raise smtp_error(exc, self.server) from exc
        try:
            conn.smtp.send_message(message)
        except Exception as exc:
            _close(conn.smtp)
            raise smtp_error(exc, self.server) from exc
        # Accepted: nothing after this point may fail the delivery (a retry would send it twice).
        conn.sent += 1
        conn.last_used = time.monotonic()
        self._keep(conn)

    def _take_idle(self) -> _Connection | None:
        """An idle connection the server still answers on, or None (connect anew)."""
        while True:
            with self._idle_lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if time.monotonic() - conn.last_used > IDLE_SECONDS:
                _close(conn.smtp)
                continue
            try:
                code, _ = conn.smtp.noop()
            except Exception:  # noqa: BLE001 - dropped by the server while idle: connect anew
                conn.smtp.close()
                continue
            if code == 250:
                return conn
            _close(conn.smtp)

    def _keep(self, conn: _Connection) -> None:
        with self._idle_lock:
            if self._closed or conn.sent >= MESSAGES_PER_CONNECTION:
                surplus = [conn]
            else:
                self._idle.append(conn)
                surplus = self._idle[:-KEEP_IDLE]
                del self._idle[:-KEEP_IDLE]
        for extra in surplus:
            _close(extra.smtp)

    def close(self) -> None:
        """Say QUIT on the idle connections (the channel changed, or the hub stops)."""
        with self._idle_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn.smtp)

    def check_connection(self) -> str:
        try:
            smtp = self._connect()
        except Exception as exc:
            raise smtp_error(exc, self.server) from exc
        try:
            code, _ = smtp.noop()
        finally:
            _close(smtp)
        login = " and logged in" if self.config.get("username") else ""
        return f"connected to {self.server}{login} (NOOP answered {code})"


@dataclass
class _Connection:
    smtp: smtplib.SMTP
    sent: int = 0
    last_used: float = 0.0


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:
        smtp.close()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def smtp_error(exc: Exception, server: str) -> ExternalError | ConfigError:
    """Map an SMTP failure to an error the job layer acts on: 4xx and network trouble retry."""
    if isinstance(exc, TargetRefused):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, answer = next(iter(exc.recipients.values()), (None, b""))
        return _reply_error(f"SMTP {server} refused the recipient", code, _text(answer))
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {
            smtplib.SMTPSenderRefused: "refused the sender",
            smtplib.SMTPDataError: "refused the message",
            smtplib.SMTPAuthenticationError: "refused the login",
            smtplib.SMTPConnectError: "refused the connection",
            smtplib.SMTPHeloError: "refused the greeting",
        }.get(type(exc), "answered")
        return _reply_error(f"SMTP {server} {what}", exc.smtp_code, _text(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConfigError(f"SMTP {server}: {exc} (check the channel's security setting)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConfigError(
            f"SMTP {server}: its TLS certificate cannot be trusted ({exc.verify_message})"
        )
    if isinstance(exc, ssl.SSLError):
        return ConfigError(
            f"SMTP {server}: TLS failed ({exc.reason}); is the security setting right "
            f"for this port (ssl: 465, starttls: 587)?"
        )
    if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
        return ExternalError(
            f"SMTP {server} unreachable: {exc.__class__.__name__}: {exc}", retryable=True
        )
    return ExternalError(f"SMTP {server}: {exc.__class__.__name__}: {exc}", retryable=True)


def _reply_error(prefix: str, code: int | None, answer: str) -> ExternalError:
    # 4xx: try again later; 5xx: the server will say the same again. A non-reply (-1) is transient.
    permanent = code is not None and 500 <= code < 600
    return ExternalError(
        f"{prefix}: {code} {answer}".strip(),
        retryable=not permanent,
        status=code if code and code > 0 else None,
        details={"smtp_code": code, "smtp_answer": answer},
    )


@hookimpl
def hub_register_connectors():
    return [EmailConnector]
