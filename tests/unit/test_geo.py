"""Great-circle distances between known cities, and the coordinates a location may be given."""

import math

import pytest

from hub.core.exceptions import ValidationError
from hub.routing.geo import check_coordinates, great_circle_km

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)
BERLIN = (52.5200, 13.4050)
MUNICH = (48.1351, 11.5820)
SYDNEY = (-33.8688, 151.2093)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (LONDON, PARIS, 343.5),  # the figure every haversine calculator gives
        (NEW_YORK, LOS_ANGELES, 3936),
        (BERLIN, MUNICH, 504),
        (LONDON, SYDNEY, 16_990),
    ],
)
def test_distances_between_known_cities(a, b, km):
    assert great_circle_km(*a, *b) == pytest.approx(km, rel=0.005)
    assert great_circle_km(*b, *a) == pytest.approx(great_circle_km(*a, *b))


def test_a_place_is_no_distance_from_itself_and_antipodes_are_half_the_world_apart():
    assert great_circle_km(*MUNICH, *MUNICH) == 0
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)
    # Across the date line the short way round, not the long one.
    assert great_circle_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, rel=0.01)


def test_coordinates_come_in_pairs_within_range():
    assert check_coordinates(None, None) is None
    assert check_coordinates("48.1351", 11.582) == (48.1351, 11.582)
    with pytest.raises(ValidationError, match="give both or neither") as missing:
        check_coordinates(48.1, None)
    assert missing.value.details == {"longitude": "is missing while the other is given"}
    with pytest.raises(ValidationError) as out:
        check_coordinates(91, -181)
    assert out.value.details == {
        "latitude": "must be between -90 and 90 degrees",
        "longitude": "must be between -180 and 180 degrees",
    }
    with pytest.raises(ValidationError) as nan:
        check_coordinates(float("nan"), "east")
    assert set(nan.value.details) == {"latitude", "longitude"}
