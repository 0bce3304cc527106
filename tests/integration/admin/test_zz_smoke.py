import sys
sys.path.insert(0, "tests/integration/admin")
from admin_helpers import *  # noqa

def test_smoke(browser, admin_hub, make_order):
    oid = make_order(admin_hub)
    for url in ["/", "/orders", f"/orders/{oid}", "/channels", "/channels/new", "/channels/new/vault", "/stock", "/jobs", "/inbox", "/tokens", "/channels/1"]:
        r = browser.get(url)
        print(url, r.status_code)
        assert r.status_code == 200, r.get_data(as_text=True)[:3000]
