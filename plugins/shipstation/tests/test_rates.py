"""Rate quotes (``POST /shipments/getrates``): against ShipStation's own example answer as
``responses`` plays it, and against the sandbox over real loopback HTTP."""

from __future__ import annotations

import json

import pytest
import responses

from hub.core.exceptions import ExternalError
from hub.integration.connectors import Capability, ChannelInfo, Parcel, RateOption, can
from hub.integration.sandbox import serve
from hub.testing import vendor_example
from plugins.shipstation.connector import ShipStationConnector
from plugins.shipstation.sandbox import ShipStationSandbox

BASE = "https://ssapi.shipstation.com"

#: Austin to Washington DC, 24 oz (680 g), as ShipStation's own request sample.
PARCEL = Parcel(
    from_postal_code="78703",
    from_country="US",
    to_postal_code="20500",
    to_country="US",
    to_state="DC",
    to_city="Washington",
    weight_grams=680,
    dimensions_cm=(17.8, 12.7, 15.2),
)


def make_connector(base: str = BASE, **config) -> ShipStationConnector:
    values = {
        "api_key": "ShipStation",
        "api_secret": "Rocks",
        "webhook_token": "tok-0123456789abcdef-ship",
        "api_base_url": base,
        "store_id": None,
        **config,
    }
    connector = ShipStationConnector(
        ChannelInfo(
            id=1,
            slug="ss",
            name="SS",
            connector="shipstation",
            config=values,
            allow_private_targets=True,
        )
    )
    connector.quotes_http.sleep = lambda seconds: None
    return connector


def test_the_connector_declares_rate_quotes():
    assert can(ShipStationConnector, Capability.RATES)


@responses.activate
def test_each_carrier_is_asked_and_every_service_priced_with_its_surcharges():
    example = vendor_example("shipstation/shipments.getrates.response.json")
    responses.post(f"{BASE}/shipments/getrates", json=example)
    options = make_connector(rate_carriers="fedex").quote_rates(PARCEL)
    sent = json.loads(responses.calls[0].request.body)
    documented = vendor_example("shipstation/shipments.getrates.request.docs.json")
    # The fields ShipStation's sample sends, in its units' vocabulary; no placeholder codes.
    assert set(sent) <= set(documented)
    assert "serviceCode" not in sent and "packageCode" not in sent
    assert sent["carrierCode"] == "fedex"
    assert (sent["fromPostalCode"], sent["toPostalCode"], sent["toCountry"]) == (
        "78703",
        "20500",
        "US",
    )
    assert (sent["toState"], sent["toCity"]) == ("DC", "Washington")
    assert sent["weight"] == {"value": 680, "units": "grams"}
    assert sent["dimensions"] == {
        "length": 17.8,
        "width": 12.7,
        "height": 15.2,
        "units": "centimeters",
    }
    assert len(options) == len(example) == 7
    # FedEx Ground: 8.25 + 0.33 other costs.
    assert RateOption("fedex", "fedex_ground", "FedEx Ground®", 858) in options
    assert min(o.cost_cents for o in options) == 858
    assert max(o.cost_cents for o in options) == 9043  # First Overnight: 87.80 + 2.63


@responses.activate
def test_without_configured_carriers_the_accounts_carriers_are_quoted():
    carriers = vendor_example("shipstation/carriers.list.response.json")
    responses.get(f"{BASE}/carriers", json=carriers)
    responses.post(f"{BASE}/shipments/getrates", json=[])
    connector = make_connector()
    assert connector.quote_rates(PARCEL) == []
    codes = list(dict.fromkeys(c["code"] for c in carriers))
    asked = [json.loads(c.request.body)["carrierCode"] for c in responses.calls[1:]]
    assert asked == codes
    connector.quote_rates(PARCEL)
    # The carriers are read once per connector.
    assert sum(1 for c in responses.calls if c.request.url.endswith("/carriers")) == 1


@responses.activate
def test_a_carrier_that_refuses_is_left_out_and_all_refusing_is_an_error():
    responses.post(
        f"{BASE}/shipments/getrates",
        json={"Message": "The request is invalid.", "ExceptionMessage": "No rates for UPS"},
        status=400,
    )
    responses.post(
        f"{BASE}/shipments/getrates",
        json=vendor_example("shipstation/shipments.getrates.response.json"),
    )
    assert len(make_connector(rate_carriers="ups, fedex").quote_rates(PARCEL)) == 7
    responses.post(
        f"{BASE}/shipments/getrates",
        json={"Message": "The request is invalid.", "ExceptionMessage": "No rates for UPS"},
        status=400,
    )
    with pytest.raises(ExternalError, match="No rates for UPS"):
        make_connector(rate_carriers="ups").quote_rates(PARCEL)


@responses.activate
def test_a_failing_service_is_retried_once_then_raised_as_retryable():
    responses.post(f"{BASE}/shipments/getrates", status=503, body="down")
    with pytest.raises(ExternalError) as caught:
        make_connector(rate_carriers="ups").quote_rates(PARCEL)
    assert caught.value.retryable
    assert len(responses.calls) == 2  # the first try and one retry: routing does not wait long


def test_a_closed_rate_window_gives_no_quote_rather_than_waiting():
    connector = make_connector(rate_carriers="ups")
    connector.limiter._resume_at = connector.limiter.clock() + 40
    with pytest.raises(ExternalError, match="rate limit reached"):
        connector.quote_rates(PARCEL)


def test_wrong_carrier_lists_are_refused_by_the_settings():
    from marshmallow import ValidationError as SchemaError

    schema = ShipStationConnector.config_schema()
    with pytest.raises(SchemaError, match="carrier codes separated by commas"):
        schema.load(
            {
                "api_key": "k",
                "api_secret": "s",
                "webhook_token": "t" * 16,
                "rate_carriers": "ups; fedex",
            }
        )


def test_the_sandbox_prices_by_zone_weight_and_service_over_loopback():
    box = ShipStationSandbox("ShipStation", "Rocks")
    box.add_origin("20095", "DE")  # Hamburg
    box.add_origin("5020", "AT")  # Salzburg
    with serve(box) as url:
        connector = make_connector(url, rate_carriers="ups, fedex, stamps_com")

        def cheapest(from_zip: str, from_country: str, to_zip: str, grams: int) -> RateOption:
            parcel = Parcel(from_zip, from_country, to_zip, "DE", grams)
            return min(connector.quote_rates(parcel), key=lambda o: o.cost_cents)

        home = cheapest("20095", "DE", "80331", 500)
        abroad = cheapest("5020", "AT", "80331", 500)
        heavy = cheapest("20095", "DE", "80331", 4_500)
        near = cheapest("20095", "DE", "21073", 500)
        again = cheapest("20095", "DE", "80331", 500)
    # Same input, same price; abroad costs more than at home, heavier more than lighter,
    # farther (by postal zone) more than nearer; UPS Ground is the cheapest service.
    assert again == home
    assert abroad.cost_cents > home.cost_cents > near.cost_cents
    assert heavy.cost_cents > home.cost_cents
    assert home.service_code == "ups_ground"
    # Zone 7 at home (200 vs 803), 1 kg started: (4.00 + 7.70 + 3.85) + 4% fuel.
    assert home.cost_cents == 1555 + 62
    # USPS ships from the US only: it refused (400) and the other carriers answered.
    assert box.count("POST", "/shipments/getrates") == 15
    assert all(o.carrier != "stamps_com" for o in [home, abroad, heavy, near])
