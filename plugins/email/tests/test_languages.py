"""Customer emails in the customer's language, with the channel's branding (real SMTP server)."""

from __future__ import annotations

import json
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hub.channels.manage import ensure_manual_channel
from hub.core.events import OrderEvent
from hub.core.order import ShipmentData
from hub.orders import intake, shipments
from plugins.email.i18n import catalogue_path, choose, languages
from plugins.email.render import Brand, Renderer
from plugins.email.tests.test_email import add_channel
from plugins.email.tests.test_templates import order as sample_order
from plugins.shopify.mapping import order_from_shopify

VENDOR = Path(__file__).resolve().parents[3] / "shared" / "vendor" / "shopify"
if not VENDOR.is_dir():  # the checkout next to shared/ (../shared)
    VENDOR = Path("/work/shared/vendor/shopify")
EMAIL = Path(__file__).resolve().parents[1]


def shopify_order(locale: str | None):
    """Shopify's own order example (EUR), with the customer locale it would carry."""
    raw = json.loads((VENDOR / "order_create_eur.response.json").read_text())["body"]["order"]
    raw = {
        **raw,
        "customer_locale": locale,
        "email": "jonas@example.de",
        "shipping_address": {
            "first_name": "Jonas",
            "last_name": "Weber",
            "address1": "Hauptstraße 5",
            "city": "Berlin",
            "zip": "10115",
            "country_code": "DE",
        },
    }
    return order_from_shopify(raw)


def place_and_ship(hub, data, run_jobs) -> int:
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        order_id = intake.upsert_order(session, channel, data, actor="test").order.id
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(
            session,
            order_id,
            ShipmentData(external_id="S1", carrier="DHL", tracking_number="JD014600003"),
            actor="user:ann",
        )
    run_jobs(hub)
    return order_id


def test_a_german_shopify_order_gets_its_emails_in_german_with_euros_written_the_german_way(
    hub, smtp_server, run_jobs
):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed,order.shipped")

    place_and_ship(hub, shopify_order("de-DE"), run_jobs)

    confirmed, shipped = smtp_server.messages
    assert confirmed["Subject"] == "Ihre Bestellung #1002 ist bestätigt"
    assert confirmed["Content-Language"] == "de"
    text = confirmed.get_body(("plain",)).get_content()
    # 3 × 74.99 EUR and the order's total, as a German reads amounts.
    assert "3 x Big Brown Bear Boots" in text and "je 74,99\xa0€" in text
    assert "Gesamt: 238,47\xa0€" in text
    assert "vielen Dank für Ihre Bestellung #1002" in text
    assert shipped["Subject"] == "Ihre Bestellung #1002 wurde versandt"
    text = shipped.get_body(("plain",)).get_content()
    html = shipped.get_body(("html",)).get_content()
    assert "Sendungsnummer: JD014600003" in text and "Versanddienst: DHL" in text
    assert '<html lang="de">' in html and "Ihre Bestellung ansehen" in html
    assert "Your order" not in text + html  # not a word left in English


def test_without_a_catalogue_for_the_customers_language_the_email_is_in_english(
    hub, smtp_server, run_jobs
):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")

    place_and_ship(hub, shopify_order("sv-SE"), run_jobs)

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Your order #1002 is confirmed"
    assert mail["Content-Language"] == "en"
    assert "Total: €238.47" in mail.get_body(("plain",)).get_content()


def test_an_order_without_a_language_takes_the_channels_default(hub, smtp_server, run_jobs):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed", default_language="de")

    place_and_ship(hub, shopify_order(None), run_jobs)

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Ihre Bestellung #1002 ist bestätigt"


def test_the_channels_branding_is_in_every_emails_html_and_its_headers(hub, smtp_server, run_jobs):
    smtp_server.start()
    add_channel(
        hub,
        smtp_server.port,
        events="order.confirmed,order.shipped",
        from_name="Bärenstiefel GmbH",
        reply_to="hilfe@baeren.example",
        logo_url="https://cdn.baeren.example/logo.png",
        brand_color="#0f766e",
    )

    place_and_ship(hub, shopify_order("de-DE"), run_jobs)

    assert len(smtp_server.messages) == 2
    for mail in smtp_server.messages:
        assert mail["From"] == "Bärenstiefel GmbH <orders@shop.example>"
        assert mail["Reply-To"] == "hilfe@baeren.example"
        html = mail.get_body(("html",)).get_content()
        assert '<img src="https://cdn.baeren.example/logo.png" alt="Bärenstiefel GmbH"' in html
        assert "border-top:4px solid #0f766e" in html and "background:#0f766e" in html
        assert mail.get_body(("plain",)).get_content().strip()  # and a plain-text part


def test_a_logo_must_be_an_https_address_and_a_colour_a_hex_colour(hub):
    from hub.core.exceptions import ValidationError

    for bad, field in (
        ({"logo_url": "http://cdn.example/logo.png"}, "logo_url"),
        ({"brand_color": "teal"}, "brand_color"),
        ({"default_language": "xx"}, "default_language"),
    ):
        try:
            add_channel(hub, 2525, name=f"bad {field}", **bad)
        except ValidationError as exc:
            assert field in str(exc) or field in str(getattr(exc, "details", ""))
        else:
            raise AssertionError(f"{bad} was accepted")


def test_the_locale_decides_the_language_and_the_way_amounts_and_days_are_written():
    austrian = choose("de-AT")
    assert (austrian.code, str(austrian.locale), austrian.source) == ("de", "de_AT", "order")
    assert choose("de_CH").money("1234.5", "CHF") == "CHF\xa01'234.50"
    assert choose("de-DE").money("1234.5", "EUR") == "1.234,50\xa0€"
    assert choose("de-DE").day("2026-12-20") == "20. Dezember 2026"
    assert choose("", "de").source == "channel"
    assert choose("klingon", "").code == "en"

    event = OrderEvent(
        name="order.delayed",
        order_id=7,
        id=1,
        data={"cause": "out_of_stock", "expected_at": "2026-12-20T09:00:00+00:00"},
    )
    german = Renderer().render(event, sample_order(locale="de-DE"), brand=Brand())
    assert "Wir erwarten neue Ware am 20. Dezember 2026." in german.text
    assert "<strong>20. Dezember 2026</strong>" in german.html
    # The name is still escaped in the translated HTML.
    assert "Zoë &lt;b&gt;Doe&lt;/b&gt;" in german.html and "<b>Doe</b>" not in german.html


def test_every_catalogue_translates_every_word_of_the_templates_and_nothing_else():
    """Fails when a template gains words no catalogue has (run pybabel as docs/connectors/email.md says)."""
    method_map = [("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
    extracted = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(EMAIL), method_map, options_map={pattern: options for pattern, _ in method_map}
        )
    }
    assert len(extracted) > 100
    assert languages()[0] == "en" and "de" in languages()
    for language in languages()[1:]:
        with catalogue_path(language).open("rb") as po:
            catalog = read_po(po, locale=language)
        translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
        assert extracted - translated == set(), f"{language}: words without a translation"
        assert {m.id for m in catalog if m.id} - extracted == set(), f"{language}: stale words"
        for m in catalog:  # the same placeholders, or the email breaks at render time
            if m.id:
                assert sorted(_names(m.id)) == sorted(_names(m.string)), m.id


def _names(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)s", text)


def test_a_customer_who_unsubscribed_still_gets_the_messages_about_their_order(
    hub, smtp_server, run_jobs
):
    """The opt-out is for satisfaction checks and review requests only."""
    from hub.aftercare import checks

    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed,order.shipped")
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        order_id = intake.upsert_order(
            session, channel, shopify_order("de-DE"), actor="test"
        ).order.id
    with hub.db.transaction() as session:
        assert checks.unsubscribe(session, order_id) is True
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(
            session,
            order_id,
            ShipmentData(external_id="S1", carrier="DHL", tracking_number="JD014600003"),
            actor="user:ann",
        )
    run_jobs(hub)

    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        "Ihre Bestellung #1002 ist bestätigt",
        "Ihre Bestellung #1002 wurde versandt",
    ]
    assert all(m["List-Unsubscribe"] is None for m in smtp_server.messages)
