"""Property-based run of the REST API against its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid, on each database
(SQLite, and PostgreSQL when ``HUB_TEST_DATABASE_URL`` is set) and every check
schemathesis has (``--checks all``): no answer may be a 5xx, every answer's
status, media type, headers and body are the ones the document declares,
invalid input is refused and valid input accepted. Bounded and derandomised,
so it is the same CI-sized run every time.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from hub.accounts.users import create_token
from hub.channels.manage import create_channel
from hub.notifications import outbox as notifications
from hub.queue.jobs import Worker, enqueue
from hub.store.db import Database
from hub.testing import WebhookTestPlugin, truncate_all
from hub.web import create_app

MAX_EXAMPLES = 12


#: Schema-valid input may still break a rule no OpenAPI schema can state: it names something
#: that does not exist (a channel slug, a location, a connector, a cursor this API did not
#: give) or money the order cannot take (more decimals than its currency has, a discount
#: larger than the order). The API answers those 422 naming the field, as the document says;
#: any other refusal of valid input (400, 405, 406, 415 …) still fails the run.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)


def all_checks():
    """Every check schemathesis registers (its CLI's ``--checks all``)."""
    load_all_checks()
    return [check for check in CHECKS.get_all() if not isinstance(check, type)]


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, make_hub):
    if request.param == "sqlite":
        return make_hub(plugins=[WebhookTestPlugin()])
    url = request.getfixturevalue("pg_url")
    db = Database(url)
    truncate_all(db)
    db.dispose()
    return make_hub(plugins=[WebhookTestPlugin()], database_url=url)


@pytest.fixture
def token(hub) -> str:
    with hub.db.transaction() as session:
        return create_token(session, "schemathesis", scope="admin")[1]


def erp_file_with_rejects(hub, folder) -> None:
    """An ERP channel that imported a stock file with a rejected row, and delivery attempts on record."""
    folder.mkdir(parents=True)
    with hub.db.transaction() as session:
        channel = create_channel(
            hub,
            session,
            name="ERP",
            connector="erp_csv",
            config={"import_dir": str(folder), "settle_seconds": 0},
        )
        enqueue(session, "erp.import", {}, channel_id=channel.id)
        notifications.record_attempt(
            session,
            "notify:1:1",
            outcome="failed",
            channel_id=channel.id,
            order_id=None,
            event_id=1,
            event_name="order.created",
            status_code=500,
            error="ExternalError: answered 500",
        )
        # ... and one in progress (the outbox writes `sending` before the connector delivers).
        notifications.begin_attempt(
            session, "notify:1:2", channel_id=channel.id, order_id=None, event_id=2
        )
    (folder / "stock.csv").write_text("sku,location,on_hand\nMUG,MAIN,2\nMUG,MARS,1\n")
    Worker(hub, kinds=("erp.import",), worker_id="schemathesis").run_until_idle()


@pytest.fixture
def api_schema(hub, token, tmp_path):
    app = create_app({"HUB": hub, "TESTING": True})
    # Something to find: a location, a stock level, an order, a return, a channel, an ERP file.
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/locations", json={"code": "MAIN"}, headers=auth)
    client.post(
        "/api/v1/stock",
        json={"levels": [{"sku": "MUG", "location": "MAIN", "on_hand": 3}]},
        headers=auth,
    )
    order = client.post(
        "/api/v1/orders",
        headers=auth,
        json={
            "customer": {"email": "a@example.com"},
            "shipping_address": {},
            "currency": "USD",
            "lines": [{"sku": "MUG", "quantity": 1, "unit_price": "9.99"}],
        },
    ).get_json()
    # ... shipped, with a return opened for it (the return operations have a subject).
    for event in ("confirm", "start_fulfillment", "ship"):
        client.post(
            f"/api/v1/orders/{order['id']}/transitions", json={"event": event}, headers=auth
        )
    opened = client.post(
        f"/api/v1/orders/{order['id']}/returns",
        headers=auth,
        json={"lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "broken"},
    )
    assert opened.status_code == 201, opened.get_json()
    client.post(
        "/api/v1/channels",
        headers=auth,
        json={"name": "Shop", "connector": "webhook_test", "config": {"webhook_secret": "s"}},
    )
    erp_file_with_rejects(hub, hub.settings.erp_folder / "erp-in")  # under the ERP root
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG, headers=auth)


def test_api_answers_conform_and_never_fail(api_schema, token):
    # Schemathesis' own pytest loader (from_fixture) does not run under pytest 9, so each
    # operation gets its hypothesis test here; every failure is collected and shown.
    headers = {"Authorization": f"Bearer {token}"}
    checks = all_checks()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 24
    failures = []
    cases = [
        (op, mode)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for operation, mode in cases:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect them all: one run shows every broken operation
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
