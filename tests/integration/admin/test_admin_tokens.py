"""The API tokens page: each token's scope and last use; a new token gets the scope chosen."""

from __future__ import annotations

import html
import re

from admin_helpers import flashes
from sqlalchemy import select

from hub.accounts.users import create_token
from hub.store.models import ApiToken
from hub.testing import ApiClient


def _rows(page: str) -> dict[str, str]:
    """Each token's table row as plain text, by the token's name."""
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    rows = {}
    for row in re.findall(r"<tr.*?</tr>", body, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>|\s+", " ", cell)).strip()
            for cell in re.findall(r"<td.*?</td>", row, re.S)
        ]
        rows[cells[0]] = " | ".join(cells)
    return rows


def test_the_tokens_page_shows_each_tokens_scope_and_last_use(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        _, bi = create_token(db, "bi-tool", scope="read")
        create_token(db, "ops-script", scope="admin")
    ApiClient(browser.client, bi).get("/api/v1/orders")

    page = browser.get("/tokens").get_data(as_text=True)
    rows = _rows(page)

    assert "<th>Scope</th>" in page and "<th>Last used</th>" in page
    assert re.search(
        r"\| read \| .*\| \d{1,2} \w{3} \d{4}, \d\d:\d\d +\(just now\) \|", rows["bi-tool"]
    )
    assert re.search(r"\| admin \| .*\| never \|", rows["ops-script"])


def test_a_token_made_on_the_page_has_the_scope_chosen(browser, admin_hub):
    form = browser.get("/tokens").get_data(as_text=True)
    assert re.search(r'<option value="write" selected>', form)  # the default

    made = browser.post("/tokens", {"name": "bi-tool", "scope": "read"}).get_data(as_text=True)
    plain = re.search(r'<code class="copy token">(hub_[^<]+)</code>', made).group(1)

    assert "| read |" in _rows(made)["bi-tool"]
    reader = ApiClient(browser.client, plain)
    assert reader.get("/api/v1/orders").status_code == 200
    assert reader.post("/api/v1/orders", json={}).status_code == 403


def test_an_unknown_scope_is_refused_with_a_message(browser, admin_hub):
    answer = browser.post("/tokens", {"name": "x", "scope": "root"}, follow_redirects=True)

    assert "a token's scope is read, write or admin" in " ".join(
        flashes(answer.get_data(as_text=True))
    )
    with admin_hub.db.read() as db:
        assert db.scalars(select(ApiToken)).all() == []
