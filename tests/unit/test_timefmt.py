"""Times for people: the merchant's zone, daylight saving, and "3 min ago" in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.core.timezones import UnknownTimeZone, canonical_name, time_zone
from hub.store.config import Settings
from hub.web.timefmt import local_text, moment_of, relative

BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 4, 13, 5, tzinfo=UTC)


def test_a_time_is_shown_in_the_merchants_zone_as_people_write_it():
    assert local_text(NOW, UTC) == "4 Dec 2026, 13:05"
    assert local_text(NOW, BERLIN) == "4 Dec 2026, 14:05"
    assert local_text(NOW, TOKYO) == "4 Dec 2026, 22:05"
    # Late evening in New York is the next morning in Tokyo: the date moves too.
    late = datetime(2026, 12, 5, 2, 30, tzinfo=UTC)
    assert local_text(late, NEW_YORK) == "4 Dec 2026, 21:30"
    assert local_text(late, TOKYO) == "5 Dec 2026, 11:30"


def test_stored_times_without_a_zone_are_utc_and_iso_strings_are_read():
    naive = datetime(2026, 12, 4, 13, 5)
    assert local_text(naive, BERLIN) == "4 Dec 2026, 14:05"
    assert local_text("2026-12-04T13:05:00+00:00", BERLIN) == "4 Dec 2026, 14:05"
    assert local_text("2026-12-04T13:05:00Z", TOKYO) == "4 Dec 2026, 22:05"


def test_daylight_saving_time_moves_the_offset_not_the_instant():
    # Berlin springs forward at 01:00 UTC on 29 March 2026 (02:00 -> 03:00 local).
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    after = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_text(before, BERLIN) == "29 Mar 2026, 01:30"
    assert local_text(after, BERLIN) == "29 Mar 2026, 03:30"
    assert "UTC+01:00" in moment_of(before, BERLIN, NOW).title
    assert "UTC+02:00" in moment_of(after, BERLIN, NOW).title
    # An hour apart by the clock on the wall's other side: still "1 h" apart.
    assert relative(before, after, BERLIN) == "1 h ago"
    # Falling back (25 Oct 2026, 01:00 UTC): 02:30 local happens twice, an hour apart.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert local_text(first, BERLIN) == local_text(second, BERLIN) == "25 Oct 2026, 02:30"
    assert moment_of(first, BERLIN, NOW).title != moment_of(second, BERLIN, NOW).title


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=3, seconds=20), "3 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=5), "5 h ago"),
        (timedelta(days=1), "yesterday"),
        (timedelta(days=4), "4 days ago"),
        (timedelta(days=60), "2 months ago"),
        (timedelta(days=400), "over a year ago"),
        (-timedelta(seconds=30), "just now"),
        (-timedelta(minutes=5), "in 5 min"),
        (-timedelta(hours=2), "in 2 h"),
        (-timedelta(days=1), "tomorrow"),
        (-timedelta(days=3), "in 3 days"),
    ],
)
def test_how_long_ago_reads_as_words(ago, words):
    assert relative(NOW - ago, NOW, UTC) == words


def test_yesterday_is_the_merchants_calendar_day_not_24_hours():
    # 13:05 UTC on 4 Dec is 22:05 in Tokyo; 14:00 UTC on 3 Dec was 23:00 there on 3 Dec.
    assert relative(datetime(2026, 12, 3, 14, 0, tzinfo=UTC), NOW, TOKYO) == "yesterday"
    # 16:00 UTC on 3 Dec was already 4 Dec, 01:00 in Tokyo: today, 21 hours ago.
    assert relative(datetime(2026, 12, 3, 16, 0, tzinfo=UTC), NOW, TOKYO) == "21 h ago"
    # The same instant in UTC is still the day before.
    assert relative(datetime(2026, 12, 3, 16, 0, tzinfo=UTC), NOW, UTC) == "yesterday"


def test_a_moment_carries_iso_utc_for_machines_and_the_zone_for_people():
    m = moment_of(datetime(2026, 12, 4, 13, 2, tzinfo=UTC), TOKYO, NOW)
    assert m.iso == "2026-12-04T13:02:00Z"
    assert m.text == "4 Dec 2026, 22:02"
    assert m.title == "4 Dec 2026, 22:02 (Asia/Tokyo, UTC+09:00) · 4 Dec 2026, 13:02 UTC"
    assert m.ago == "3 min ago"
    assert moment_of(NOW, UTC, NOW).title == "4 Dec 2026, 13:05 (UTC)"


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "", "../../etc/passwd", "UTC+2"])
def test_a_name_that_is_not_an_iana_zone_is_refused_in_words(name):
    with pytest.raises(UnknownTimeZone, match="is not a time zone: use an IANA name"):
        time_zone(name)


def test_zone_names_are_stored_canonically():
    assert canonical_name(" europe/berlin ") == "Europe/Berlin"
    assert canonical_name("utc") == "UTC"
    assert canonical_name("Etc/UTC") == "UTC"


def test_hub_timezone_sets_the_default_and_a_bad_one_stops_start_up(tmp_path):
    assert Settings.from_env({"HUB_DATA_DIR": str(tmp_path)}).time_zone == "UTC"
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_TIMEZONE": "Asia/Tokyo"}
    assert Settings.from_env(env).time_zone == "Asia/Tokyo"
    with pytest.raises(ValueError, match="HUB_TIMEZONE: 'Tokio' is not a time zone"):
        Settings.from_env({"HUB_DATA_DIR": str(tmp_path), "HUB_TIMEZONE": "Tokio"})
