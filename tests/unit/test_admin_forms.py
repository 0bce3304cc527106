"""Forms generated from marshmallow schemas, and the dashboard's chart geometry."""

from __future__ import annotations

from datetime import date, timedelta

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

from hub.web import charts, forms


class Config(Schema):
    host = fields.String(required=True, metadata={"label": "Host", "help": "Name or address."})
    port = fields.Integer(load_default=25, validate=validate.Range(min=1, max=65535))
    password = fields.String(metadata={"secret": True})
    security = fields.String(
        load_default="starttls", validate=validate.OneOf(["none", "starttls", "ssl"])
    )
    debug = fields.Boolean(load_default=False)
    tags = fields.List(fields.String())
    events = fields.List(fields.String(validate=validate.OneOf(["a", "b"])))
    sender = fields.Email(data_key="from")


def _by_name(built):
    return {f.name: f for f in built}


def test_types_labels_and_defaults_follow_the_schema():
    built = _by_name(forms.build(Config))
    assert built["host"].kind == "text" and built["host"].required and built["host"].label == "Host"
    assert built["host"].help == "Name or address."
    assert built["port"].kind == "number" and built["port"].value == "25"
    assert built["port"].attrs == {"min": 1, "max": 65535, "step": 1}
    assert built["password"].kind == "password" and built["password"].secret
    assert built["security"].kind == "select" and built["security"].value == "starttls"
    assert [c for c, _ in built["security"].choices] == ["none", "starttls", "ssl"]
    assert built["debug"].kind == "checkbox" and built["debug"].value is False
    assert built["tags"].kind == "list" and built["events"].kind == "multiselect"
    assert built["from"].kind == "email" and built["from"].label == "Sender"


def test_a_secret_is_never_filled_back_from_the_store_or_a_submission():
    stored = {"host": "mail", "password": "hunter22"}
    built = _by_name(forms.build(Config, stored=stored, stored_secrets=frozenset({"password"})))
    assert built["password"].value == "" and built["password"].stored
    assert built["host"].value == "mail"
    again = _by_name(forms.build(Config, submitted={"password": "typed"}))
    assert again["password"].value == "" and again["password"].retype


def test_parse_turns_a_form_into_what_the_schema_loads():
    form = MultiDict(
        [
            ("host", "  mail.example.com "),
            ("port", ""),
            ("password", " pw with spaces "),
            ("debug", "on"),
            ("tags", "a, b,,c"),
            ("events", "a"),
            ("events", "b"),
            ("from", "shop@example.com"),
        ]
    )
    data = forms.parse(Config, form)
    assert data == {
        "host": "mail.example.com",
        "password": " pw with spaces ",
        "debug": True,
        "tags": ["a", "b", "c"],
        "events": ["a", "b"],
        "from": "shop@example.com",
    }
    loaded = Config().load(data)
    assert loaded["port"] == 25 and loaded["sender"] == "shop@example.com"
    assert forms.parse(Config, MultiDict())["debug"] is False


def test_errors_land_on_their_fields_and_the_rest_on_the_form():
    errors = {
        "host": ["Missing data for required field."],
        "tags": {1: ["Not a valid string."]},
        "_schema": ["host and port disagree"],
        "mystery": ["Unknown field."],
    }
    built = _by_name(forms.build(Config, submitted={}, errors=errors))
    assert built["host"].errors == ["Missing data for required field."]
    assert built["tags"].errors == ["item 2: Not a valid string."]
    assert forms.schema_level_errors(errors, Config) == [
        "host and port disagree",
        "mystery: Unknown field.",
    ]


def test_stacked_bars_stack_series_per_day_on_a_round_axis():
    today = date(2026, 1, 10)
    days = [today - timedelta(days=n) for n in (2, 1, 0)]
    chart = charts.stacked_bars(days, {"web": {days[0]: 3, days[2]: 4}, "shop": {days[2]: 2}})
    assert chart.total == 9
    assert [v for _, v in chart.y_ticks][-1] == 10  # 6 on the busiest day → axis to 10
    today_bars = [b for b in chart.bars if b.title.startswith("2026-01-10")]
    assert len(today_bars) == 2
    # Stacked: the second bar sits on top of the first.
    assert abs(today_bars[0].y - (today_bars[1].y + today_bars[1].height)) < 0.2
    assert chart.legend == [("shop", charts.PALETTE[0], 2), ("web", charts.PALETTE[1], 7)]
    assert charts.stacked_bars(days, {}).bars == []


def test_funnel_percentages_are_of_the_largest_step():
    steps = charts.funnel({"pending": 5, "confirmed": 10}, ["pending", "confirmed", "shipped"])
    assert [(s.name, s.count, s.percent) for s in steps] == [
        ("pending", 5, 50.0),
        ("confirmed", 10, 100.0),
        ("shipped", 0, 0.0),
    ]
