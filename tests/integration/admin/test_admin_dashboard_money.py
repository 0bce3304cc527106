"""The dashboard shows money: sales per currency and period, orders waiting, top SKUs, failing channels."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest

from hub.channels.manage import create_channel
from hub.core.order import Line
from hub.orders import transitions
from hub.orders.analytics import period_start
from hub.queue.jobs import dead_letter, enqueue
from hub.store.models import Job, Order, WebhookEvent


def _text(fragment: str) -> str:
    """What a merchant reads: tags gone, entities decoded, spaces squeezed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _section(page: str, label: str) -> str:
    start = page.index(f'aria-label="{label}"')
    return page[start : page.index("</section>", start)]


def _row(section: str, currency: str) -> str:
    start = section.index(f'<tr data-currency="{currency}"')
    return _text(section[start : section.index("</tr>", start)])


def _known_times() -> dict[str, datetime]:
    """Times whose period does not depend on when the test runs: 'today' lies between
    midnight UTC and now, and 'yesterday' the same time a day before."""
    now = datetime.now(UTC)
    midnight = period_start(now, 1)
    today = midnight + (now - midnight) / 2
    return {
        "today": today,
        "yesterday": today - timedelta(days=1),
        "10 days ago": today - timedelta(days=10),
        "40 days ago": today - timedelta(days=40),
    }


def _sell(make_order, hub, when, currency, *lines, shipping=0, **kw) -> int:
    return make_order(
        hub,
        placed_at=when,
        currency=currency,
        lines=[Line(sku=s, name=s.title(), quantity=q, unit_price=p) for s, q, p in lines],
        shipping=shipping,
        **kw,
    )


@pytest.mark.parametrize("admin_hub", ["sqlite", "postgresql"], indirect=True)
def test_the_dashboard_shows_revenue_orders_and_average_per_currency_beside_the_period_before(
    browser, admin_hub, make_order
):
    t = _known_times()
    _sell(make_order, admin_hub, t["today"], "USD", ("MUG", 1, 10000))
    _sell(make_order, admin_hub, t["today"], "USD", ("TEE", 2, 2500), shipping=500)
    _sell(make_order, admin_hub, t["yesterday"], "USD", ("MUG", 1, 10000))
    _sell(make_order, admin_hub, t["40 days ago"], "USD", ("MUG", 2, 10000))
    _sell(make_order, admin_hub, t["today"], "JPY", ("TEA", 3, 1500))
    _sell(make_order, admin_hub, t["10 days ago"], "JPY", ("TEA", 1, 2000))
    cancelled = _sell(make_order, admin_hub, t["today"], "USD", ("SOFA", 1, 99900))
    with admin_hub.db.transaction() as db:
        transitions.cancel(db, cancelled, actor="test")

    page = browser.get("/").get_data(as_text=True)

    assert "not cancelled" in _text(page)  # the help line says what counts
    today = _section(page, "Sales today")
    # 100.00 + 55.00 today (the cancelled 999.00 left out) beside yesterday's 100.00.
    assert _row(today, "USD") == (
        "USD USD 155.00 USD 100.00 before · +55.0% "
        "2 1 before · +100.0% "
        "USD 77.50 USD 100.00 before · -22.5%"
    )
    assert _row(today, "JPY").startswith("JPY JPY 4,500 JPY 0 before · new 1 0 before · new")
    week = _section(page, "Sales 7 days")
    assert _row(week, "USD").startswith("USD USD 255.00 USD 0.00 before · new 3")
    assert _row(week, "JPY") == (
        "JPY JPY 4,500 JPY 2,000 before · +125.0% "
        "1 1 before · ±0% "
        "JPY 4,500 JPY 2,000 before · +125.0%"
    )
    month = _section(page, "Sales 30 days")
    assert _row(month, "USD").startswith("USD USD 255.00 USD 200.00 before · +27.5% 3 1 before")
    assert "SOFA" not in page

    # Sales per day per channel, one chart per currency, amounts as the currency reads.
    usd_chart = page[page.index('sales-chart money" data-currency="USD"') :]
    usd_chart = usd_chart[: usd_chart.index("</section>")]
    titles = re.findall(r"<title>(.*?)</title>", usd_chart)
    assert f"{t['today'].date().isoformat()} · Manual orders: USD 155.00" in titles
    assert f"{t['yesterday'].date().isoformat()} · Manual orders: USD 100.00" in titles
    assert "Manual orders (USD 255.00)" in _text(usd_chart)
    per_channel = usd_chart[usd_chart.index('<table class="funnel sales-per-channel"') :]
    assert _text(per_channel[: per_channel.index("</table>")]) == "Manual orders USD 255.00"

    skus = _text(
        page[
            page.index('class="top-skus"') : page.index("</table>", page.index('class="top-skus"'))
        ]
    )
    assert "TEA Tea 4 JPY 6,500" in skus
    assert "MUG Mug 2 USD 200.00" in skus  # the 40-day-old mugs are not in 30 days
    assert skus.index("TEA") < skus.index("MUG") < skus.index("TEE")


@pytest.mark.parametrize("admin_hub", ["sqlite", "postgresql"], indirect=True)
def test_orders_waiting_per_stage_link_to_the_list_filtered_that_way(
    browser, admin_hub, make_order
):
    t = _known_times()
    held = _sell(make_order, admin_hub, t["today"], "USD", ("MUG", 1, 1000), number="#H1")
    late = _sell(make_order, admin_hub, t["10 days ago"], "USD", ("MUG", 1, 1000), number="#L1")
    stuck = _sell(make_order, admin_hub, t["10 days ago"], "USD", ("MUG", 1, 1000), number="#L2")
    packing = _sell(make_order, admin_hub, t["today"], "USD", ("MUG", 1, 1000), number="#P1")
    fresh = _sell(make_order, admin_hub, t["today"], "USD", ("MUG", 1, 1000), number="#C1")
    with admin_hub.db.transaction() as db:
        transitions.hold(db, held, "address_invalid", actor="test")
        # Statuses the pipeline reaches through payment and routing, set directly here.
        for order_id, status in (
            (late, "confirmed"),
            (fresh, "confirmed"),
            (stuck, "processing"),
            (packing, "processing"),
        ):
            db.get(Order, order_id).status = status

    page = browser.get("/").get_data(as_text=True)
    start = page.index('class="tiles waiting"')
    tiles, help_line = page[start : page.index("</section>", start)].split("</ul>")

    def links(fragment: str) -> dict[str, tuple[str, int]]:
        return {
            _text(words): (html_lib.unescape(link), int(n))
            for link, n, words in re.findall(
                r'href="([^"]+)">(?:<span class="num">)?(\d+)(?:</span>)?([^<]+)</a>', fragment
            )
        }

    tile, late_one = links(tiles), links(help_line)
    late_to = (period_start(datetime.now(UTC), 1) - timedelta(days=3)).date().isoformat()
    assert tile["on hold"] == ("/orders?status=on_hold", 1)
    assert tile["awaiting payment"] == ("/orders?financial_status=pending", 5)
    assert tile["at the warehouse"] == ("/orders?status=processing", 2)
    assert tile["late"] == (f"/orders?status=confirmed&placed_to={late_to}", 2)
    assert late_one["not yet at the warehouse"] == tile["late"][:1] + (1,)
    assert late_one["at the warehouse"] == (f"/orders?status=processing&placed_to={late_to}", 1)

    def listed(link: str) -> set[str]:
        body = browser.get(link).get_data(as_text=True)
        return set(re.findall(r">(#[A-Z]\d)</a>", body))

    assert listed(tile["on hold"][0]) == {"#H1"}
    assert listed(tile["at the warehouse"][0]) == {"#L2", "#P1"}
    assert listed(tile["late"][0]) == {"#L1"}
    assert listed(late_one["at the warehouse"][0]) == {"#L2"}


def test_failing_channels_show_in_red_with_the_reason_not_enabled(browser, admin_hub, make_order):
    make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        broken = create_channel(
            admin_hub,
            db,
            name="EU store",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        fine = create_channel(
            admin_hub,
            db,
            name="US store",
            connector="vault",
            config={"account": "b", "api_token": "t"},
        )
        off = create_channel(
            admin_hub,
            db,
            name="Old store",
            connector="vault",
            config={"account": "c", "api_token": "t"},
        )
        off.enabled = False
        busy = create_channel(
            admin_hub,
            db,
            name="Busy store",
            connector="vault",
            config={"account": "d", "api_token": "t"},
        )
        for n in range(3):  # failing now, retried later: the top bar's alarm counts it
            job_id = enqueue(db, "channel.pull", {"n": n}, channel_id=busy.id)
            db.get(Job, job_id).status = "failed"
        dead_letter(db, "channel.pull", {}, error="ExternalError: 401", channel_id=broken.id)
        db.add(
            WebhookEvent(
                channel_id=broken.id, event_id="e1", body="{}", status="failed", error="bad"
            )
        )
        assert fine.id

    page = browser.get("/").get_data(as_text=True)
    rows = {
        _text(re.search(r"<td>(.*?)</td>", row, re.S).group(1)): row
        for row in re.findall(r"<tr>(.*?)</tr>", page[page.index("<h2>Channels</h2>") :], re.S)
        if "channel_edit" in row or "/channels/" in row
    }
    # Red exactly where the top bar's alarm says failing; older trouble is amber.
    red = {name for name, row in rows.items() if "channel-failing" in row}
    assert red == {"Busy store"}
    assert "3 jobs failed in the last hour" in _text(rows["Busy store"])
    assert "1 failing channel" in page and "Busy store: 3 jobs failed" in page  # the top bar
    assert 'class="channel-attention"' in rows["EU store"]
    assert "1 job gave up in the last 7 days" in _text(rows["EU store"])
    assert "1 webhook event failed in the last 7 days" in _text(rows["EU store"])
    assert "state-enabled" not in rows["EU store"]
    assert "state-disabled" in rows["Old store"] and "channel-failing" not in rows["Old store"]
    assert "state-enabled" in rows["US store"] and "channel-failing" not in rows["US store"]
