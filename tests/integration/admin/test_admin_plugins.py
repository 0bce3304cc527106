"""The plugins page: the same listing as `hub plugins`, for a merchant who cannot reach a shell."""

from __future__ import annotations

import html
import re

from hub.runtime.plugins import list_plugins


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_plugins_page_lists_every_plugin_with_its_connectors_and_hooks(browser, admin_hub):
    answer = browser.get("/plugins")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    text = _text(page)
    for plugin in list_plugins(admin_hub.pm):
        section = page[page.index(f'id="plugin-{plugin.name}"') :].split("</section>")[0]
        shown = _text(section)
        assert f"{plugin.name} {plugin.version}" in shown
        for hook in plugin.hooks:
            assert hook in shown, (plugin.name, hook)
        for connector in plugin.connectors:
            assert f"{connector.label} {connector.name} {', '.join(connector.roles)}" in shown
    assert "Shopify shopify sales" in text
    assert "channel.pull every 300 s" in text
    # The test hub's own test plugin (registered by code) is there too.
    assert "Vault vault sales" in text


def test_every_admin_page_links_to_the_plugins_page(browser):
    page = browser.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/plugins"[^>]*>Plugins</a>', page)
    current = browser.get("/plugins").get_data(as_text=True)
    assert re.search(r'<a href="/plugins" aria-current="page">Plugins</a>', current)
