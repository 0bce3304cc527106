"""Email content: Jinja2 templates rendered to a subject, a text part and an HTML part.

Each email has three templates, named after the event: ``<name>.subject.txt``,
``<name>.txt`` and ``<name>.html`` (``confirmed``, ``shipped``, ``delivered``,
``cancelled``, ``refunded``). HTML templates are autoescaped; templates run
in Jinja2's sandbox with undefined names as errors, so a typo in an override
fails the email loudly (a dead job naming it) instead of sending a hole.

Every email is written in the customer's language (:mod:`plugins.email.i18n`):
the templates' words go through gettext (Jinja's i18n extension, one environment
per language), and ``money(amount, currency)`` and ``day(date)`` format amounts
and days for the customer's locale with Babel. ``brand`` carries the channel's
logo and colour into the HTML.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from hub.core.events import OrderEvent
from hub.core.exceptions import ConfigError
from hub.core.money import Money
from hub.integration.connectors import Attachment
from plugins.email.i18n import Language, choose, translations

BUILTIN = Path(__file__).parent / "templates"

#: The events that send an email, and the template each uses.
EVENT_TEMPLATES: dict[str, str] = {
    "order.confirmed": "confirmed",
    "order.partially_shipped": "shipped",
    "order.shipped": "shipped",
    "order.delivered": "delivered",
    # The carrier reported a problem (an exception, returned to sender): once per order.
    "order.delivery_exception": "delivery_exception",
    "order.cancelled": "cancelled",
    # Confirmed, with items waiting for stock on a purchase order (and when it comes).
    "order.backordered": "backordered",
    "order.refunded": "refunded",
    # An invoice or credit note issued: the hub attaches its PDF (Capability.ATTACHMENTS).
    "order.invoice_issued": "invoice",
    "order.credit_note_issued": "credit_note",
    # After delivery: "did all arrive well?", and after a "yes" the review links (issue 23).
    "order.satisfaction_check": "satisfaction_check",
    "order.review_requested": "review_request",
    # A return approved (by a person or the channel's rule): how to send the goods back.
    "order.return_approved": "return_approved",
    # The order waits (out of stock, or backordered): once per cause, with the day when known.
    "order.delayed": "delayed",
}

#: Events a new channel does not email unless ticked: ``order.backordered`` is told by the
#: delay notice (``order.delayed``, cause ``backordered``), which would say it a second time.
OFF_BY_DEFAULT = frozenset({"order.backordered"})
#: The events a channel emails when its configuration names none.
DEFAULT_EVENTS: tuple[str, ...] = tuple(e for e in EVENT_TEMPLATES if e not in OFF_BY_DEFAULT)

#: Messages that are not about the order itself: each carries an unsubscribe link
#: (``unsubscribe_url`` in the event's data) and the List-Unsubscribe header.
UNSUBSCRIBABLE = frozenset({"order.satisfaction_check", "order.review_requested"})

#: Carriers' public tracking pages, for shipments that came without a tracking URL.
CARRIER_TRACKING = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "stamps_com": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "dhl_express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "dhl_express_worldwide": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    #: The language it is written in (``de``), and the locale of its money and dates.
    language: str = "en"
    locale: str = "en"


@dataclass(frozen=True)
class Brand:
    """A channel's look in its customers' emails."""

    #: Where the HTML's logo comes from: an https address, ``cid:`` (the uploaded logo,
    #: inside the message) or a ``data:`` URI (the uploaded logo, in the admin's preview).
    logo_url: str = ""
    #: The buttons' and the heading bar's colour, ``#rrggbb``.
    color: str = "#18181b"
    #: The uploaded logo, (bytes, image subtype), sent inside the message (``cid:``).
    logo_file: tuple[bytes, str] | None = None


#: The Content-ID of an uploaded logo inside a message.
LOGO_CID = "logo@hub.invalid"


def carrier_tracking_link(shipment: dict[str, Any] | None) -> str | None:
    """The link a customer follows to the carrier's tracking page, if one is known."""
    if not shipment:
        return None
    url = (shipment.get("tracking_url") or "").strip()
    if url.startswith(("https://", "http://")):
        return url
    number = (shipment.get("tracking_number") or "").strip()
    carrier = (shipment.get("carrier") or "").strip().lower().replace(" ", "_")
    if number and carrier in CARRIER_TRACKING:
        return CARRIER_TRACKING[carrier].format(quote(number, safe=""))
    return None


def _approved_return(order: dict[str, Any], data: dict[str, Any]) -> dict[str, Any] | None:
    """The approved return of an ``order.return_approved`` email: its lines in words, what follows."""
    found = next(
        (r for r in order.get("returns") or [] if r.get("id") == data.get("return_id")), None
    )
    if found is None:
        return None
    names = {line.get("id"): line.get("name") or line.get("sku") for line in order["lines"]}
    exchange = found.get("resolution") == "exchange"
    refund = Money.parse(found["refund_amount"], found["currency"]) + Money.parse(
        found["shipping_refund"], found["currency"]
    )
    return {
        "id": found["id"],
        "exchange": exchange,
        "exchange_order": data.get("exchange_order") or "",
        "refund": "" if exchange else str(refund),
        "currency": found["currency"],
        "lines": [
            {
                "name": names.get(x["line_id"]) or x["sku"],
                "quantity": x["quantity"],
                "exchange_sku": x.get("exchange_sku") or "",
            }
            for x in found.get("lines") or []
        ],
    }


def message_id(idempotency_key: str, from_address: str) -> str:
    """The same Message-ID for every try of one notification."""
    domain = from_address.rpartition("@")[2] or "hub.invalid"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}.hub@{domain}>"


class Renderer:
    def __init__(self, templates_dir: str | None = None):
        self._loaders = [FileSystemLoader(templates_dir)] if templates_dir else []
        # One environment per language: gettext is installed on an environment, and
        # workers render in threads.
        self._envs: dict[str, SandboxedEnvironment] = {}
        self._lock = threading.Lock()
        self.env = self.environment("en")

    def environment(self, language: str) -> SandboxedEnvironment:
        with self._lock:
            env = self._envs.get(language)
            if env is None:
                env = SandboxedEnvironment(
                    loader=ChoiceLoader([*self._loaders, FileSystemLoader(BUILTIN)]),
                    autoescape=select_autoescape(
                        enabled_extensions=("html",), default_for_string=False
                    ),
                    undefined=StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    extensions=["jinja2.ext.i18n"],
                )
                # {% trans %} blocks' whitespace collapsed, as babel.cfg extracts them.
                env.policies["ext.i18n.trimmed"] = True
                env.install_gettext_translations(  # type: ignore[attr-defined]
                    translations(language), newstyle=True
                )
                self._envs[language] = env
            return env

    def context(
        self, event: OrderEvent, order: dict[str, Any], *, shop_name: str, public_url: str
    ) -> dict[str, Any]:
        shipments = [s for s in order.get("shipments") or [] if s.get("status") != "voided"]
        shipment_id = (event.data or {}).get("shipment_id")
        shipment = next((s for s in shipments if s.get("id") == shipment_id), None) or (
            shipments[-1] if shipments else None
        )
        if shipment is not None:
            by_id = {line["id"]: line for line in order.get("lines") or []}
            # "shipped_lines", not "items": Jinja would find the dict's items() method first.
            shipment = {
                **shipment,
                "tracking_link": carrier_tracking_link(shipment),
                "shipped_lines": [
                    {**by_id[sl["line_id"]], "quantity": sl["quantity"]}
                    for sl in shipment.get("lines") or []
                    if sl["line_id"] in by_id
                ],
            }
        refund = None
        if event.name == "order.refunded" and (event.data or {}).get("amount") is not None:
            refund = {
                "amount": str(Money(int(event.data["amount"]), order["currency"])),
                "currency": order["currency"],
            }
        invoice = None
        if EVENT_TEMPLATES.get(event.name) in ("invoice", "credit_note"):
            data = event.data or {}
            invoice = {
                "number": data.get("number") or "",
                "total": data.get("total") or "",
                "currency": order.get("currency") or "",
                "credit_of": data.get("credit_of") or "",
            }
        backorder = None
        if event.name == "order.backordered":
            data = event.data or {}
            names = {line.get("id"): line.get("name") or line.get("sku") for line in order["lines"]}
            backorder = {
                # The day it is expected, as a date (a time of day promises too much).
                "expected": (data.get("expected_at") or "")[:10],
                "lines": [
                    {"name": names.get(x.get("line_id")) or x.get("sku"), "quantity": x["quantity"]}
                    for x in data.get("lines") or []
                ],
            }
        delay = None
        if event.name == "order.delayed":
            data = event.data or {}
            names = {line.get("id"): line.get("name") or line.get("sku") for line in order["lines"]}
            delay = {
                "cause": data.get("cause") or "",
                "expected": (data.get("expected_at") or "")[:10],
                # A promise not kept (late_shipping, late_delivery): the day that was promised.
                "promised": (data.get("promised") or "")[:10],
                "lines": [
                    {
                        "name": names.get(x.get("line_id")) or x.get("sku"),
                        "quantity": x.get("quantity"),
                    }
                    for x in data.get("lines") or []
                ],
                # Alternatives in stock for the missing lines, and the signed link to choose.
                "substitutes": [
                    {
                        "name": names.get(x.get("line_id")) or x.get("sku"),
                        "quantity": x.get("quantity"),
                        "substitute": x.get("substitute_sku"),
                    }
                    for x in data.get("substitutes") or []
                ],
                "choice_url": data.get("choice_url") or "",
                "choice_days": data.get("choice_days") or 0,
            }
        return_ = None
        if event.name == "order.return_approved":
            return_ = _approved_return(order, event.data or {})
        aftercare = None
        if event.name in UNSUBSCRIBABLE:
            data = event.data or {}
            aftercare = {
                "yes_url": data.get("yes_url") or "",
                "no_url": data.get("no_url") or "",
                "unsubscribe_url": data.get("unsubscribe_url") or "",
                "review_links": [
                    {"product": link.get("product") or "", "url": link.get("url") or ""}
                    for link in data.get("review_links") or []
                ],
            }
        customer = order.get("customer") or {}
        token = order.get("tracking_token") or ""
        return {
            "event": event.to_dict(),
            "order": order,
            "customer_name": customer.get("name") or "",
            # What the customer knows the order by.
            "number": order.get("number") or order.get("id"),
            "shop_name": shop_name,
            "tracking_page_url": f"{(public_url or '').rstrip('/')}/track/{token}"
            if token
            else None,
            "shipment": shipment,
            "partial": event.name == "order.partially_shipped",
            "refund": refund,
            "invoice": invoice,
            "backorder": backorder,
            "delay": delay,
            "aftercare": aftercare,
            "return_": return_,
            "reason": (event.data or {}).get("reason") or "",
        }

    def render(
        self,
        event: OrderEvent,
        order: dict[str, Any],
        *,
        shop_name: str = "",
        public_url: str = "",
        language: Language | None = None,
        brand: Brand | None = None,
    ) -> Rendered:
        name = EVENT_TEMPLATES.get(event.name)
        if name is None:
            raise ConfigError(f"the email connector has no template for {event.name}")
        if language is None:
            language = choose(order.get("locale") or "")
        context = self.context(event, order, shop_name=shop_name, public_url=public_url)
        context.update(
            lang=language.code,
            money=language.money,
            day=language.day,
            brand=brand or Brand(),
        )
        env = self.environment(language.code)
        try:
            subject = env.get_template(f"{name}.subject.txt").render(context)
            text = env.get_template(f"{name}.txt").render(context)
            html = env.get_template(f"{name}.html").render(context)
        except TemplateError as exc:
            where = ""
            if isinstance(exc, TemplateSyntaxError) and exc.lineno:  # only it knows the line
                where = f" ({exc.filename}:{exc.lineno})"
            raise ConfigError(
                f"email template {name} cannot be rendered{where}: {exc.__class__.__name__}: {exc}"
            ) from exc
        return Rendered(
            subject=re.sub(r"\s+", " ", subject).strip(),
            text=text.strip() + "\n",
            html=html,
            language=language.code,
            locale=str(language.locale),
        )


def build_message(
    rendered: Rendered,
    *,
    to: str,
    to_address: str,
    from_name: str,
    from_address: str,
    reply_to: str,
    msg_id: str,
    event: str,
    attachments: Sequence[Attachment] = (),
    unsubscribe_url: str = "",
    logo: tuple[bytes, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = formataddr((from_name, from_address)) if from_name else from_address
    message["To"] = formataddr((to, to_address)) if to else to_address
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = msg_id
    # Tell auto-responders (out of office) not to answer a notification.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Hub-Event"] = event
    if unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients show an "unsubscribe" button that POSTs here.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if logo is not None:
        # The uploaded logo inside the message (multipart/related): nothing to fetch.
        html_part = message.get_body(("html",))
        assert html_part is not None
        html_part.add_related(
            logo[0], maintype="image", subtype=logo[1], cid=f"<{LOGO_CID}>", filename="logo"
        )
    # Each file a part of its own beside the text and HTML (multipart/mixed).
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    # The language it is written in (RFC 3282); after the parts: set_content clears Content-*.
    message["Content-Language"] = rendered.language
    return message
