"""Customer messages previewed in the admin, in each language, and sent as a test (real SMTP)."""

from __future__ import annotations

import html as html_lib

from admin_helpers import flashes

from hub.channels.manage import create_channel
from hub.store.models import Channel
from plugins.email.tests.conftest import SmtpServer


def email_channel(hub, port: int) -> int:
    with hub.db.transaction() as db:
        return create_channel(
            hub,
            db,
            name="Customer email",
            connector="email",
            config={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": "none",
                "from_address": "orders@baeren.example",
                "from_name": "Bärenstiefel",
                "reply_to": "hilfe@baeren.example",
                "logo_url": "https://cdn.baeren.example/logo.png",
                "brand_color": "#0f766e",
            },
        ).id


def test_the_preview_shows_the_message_in_the_chosen_language_with_the_branding(browser, admin_hub):
    channel_id = email_channel(admin_hub, 2525)

    page = browser.get(
        f"/email-preview?channel={channel_id}&message=order.shipped&language=de"
    ).get_data(as_text=True)

    assert "<h2>Ihre Bestellung #1001 wurde versandt</h2>" in page
    assert "Bärenstiefel &lt;orders@baeren.example&gt;" in page  # From, as it goes out
    assert "hilfe@baeren.example" in page  # Reply-To
    assert "Sendungsnummer: JD014600003" in html_lib.unescape(page)  # the plain text
    frame = "/email-preview/order.shipped/de/frame?channel=" + str(channel_id)
    assert f'src="{frame}"' in page and "sandbox" in page

    answer = browser.get(frame)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and '<html lang="de">' in body
    assert '<img src="https://cdn.baeren.example/logo.png"' in body and "#0f766e" in body
    assert "Ihre Bestellung ansehen" in body
    # The email's own page: no scripts, its inline styles allowed, framed by the admin only.
    policy = answer.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "script-src" not in policy and "'unsafe-inline'" in policy
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"

    english = browser.get(
        f"/email-preview?channel={channel_id}&message=order.confirmed&language=en"
    ).get_data(as_text=True)
    assert "<h2>Your order #1001 is confirmed</h2>" in english
    assert "Total: €1,282.90" in html_lib.unescape(english)


def test_a_test_send_goes_to_the_typed_address_through_the_channels_smtp_server(browser, admin_hub):
    server = SmtpServer().start()
    try:
        channel_id = email_channel(admin_hub, server.port)
        form = {"channel": channel_id, "message": "order.delivered", "language": "de"}

        refused = browser.post(
            "/email-preview/send", data={**form, "to": "not an address"}, follow_redirects=True
        )
        assert "'not an address' is not an email address" in " ".join(flashes(_text(refused)))
        assert server.messages == []

        answer = browser.post(
            "/email-preview/send",
            data={**form, "to": "owner@baeren.example"},
            follow_redirects=True,
        )
        assert "Test message sent to owner@baeren.example." in " ".join(flashes(_text(answer)))
        [mail] = server.messages
        assert mail["To"] == "owner@baeren.example"
        assert mail["Subject"] == "[Test] Ihre Bestellung #1001 wurde zugestellt"
        assert mail["From"] == "Bärenstiefel <orders@baeren.example>"
        assert mail["Reply-To"] == "hilfe@baeren.example"
        assert "Wir wünschen Ihnen viel Freude damit!" in mail.get_body(("plain",)).get_content()
        assert "cdn.baeren.example/logo.png" in mail.get_body(("html",)).get_content()
    finally:
        server.stop()


def test_without_an_email_channel_the_page_says_how_to_add_one(browser, admin_hub):
    page = browser.get("/email-preview").get_data(as_text=True)
    assert "No channel sends customer messages yet" in page


def _text(answer) -> str:
    return answer.get_data(as_text=True)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # a PNG's signature, then its body


def test_an_uploaded_logo_is_kept_privately_and_sent_inside_every_email(browser, admin_hub):
    import io
    import stat

    server = SmtpServer().start()
    try:
        channel_id = email_channel(admin_hub, server.port)
        not_image = browser.post(
            "/email-preview/logo",
            data={"channel": channel_id, "logo": (io.BytesIO(b"<svg onload=x>"), "logo.png")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert "not a PNG, JPEG or GIF image: nothing was saved" in " ".join(
            flashes(_text(not_image))
        )
        saved = browser.post(
            "/email-preview/logo",
            data={"channel": channel_id, "logo": (io.BytesIO(PNG), "logo.png")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert "Logo saved" in " ".join(flashes(_text(saved)))
        with admin_hub.db.read() as db:
            folder = admin_hub.channel_files(db.get(Channel, channel_id))
        assert folder is not None and folder.parent == admin_hub.settings.data_dir / "channels"
        path = folder / "email-logo"
        assert path.read_bytes() == PNG
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the owner's only

        frame = browser.get(f"/email-preview/order.shipped/en/frame?channel={channel_id}")
        assert 'src="data:image/png;base64,' in _text(frame)  # the preview shows it

        browser.post(
            "/email-preview/send",
            data={
                "channel": channel_id,
                "message": "order.shipped",
                "language": "en",
                "to": "owner@baeren.example",
            },
        )
        [mail] = server.messages
        html = mail.get_body(("html",))
        assert '<img src="cid:logo@hub.invalid"' in html.get_content()
        [logo] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
        assert logo["Content-ID"] == "<logo@hub.invalid>" and logo.get_content() == PNG
        assert "cdn.baeren.example" not in html.get_content()  # the upload wins over the URL

        browser.post("/email-preview/logo", data={"channel": channel_id, "remove": "1"})
        assert not path.exists()
        frame = browser.get(f"/email-preview/order.shipped/en/frame?channel={channel_id}")
        assert '<img src="https://cdn.baeren.example/logo.png"' in _text(frame)
    finally:
        server.stop()
