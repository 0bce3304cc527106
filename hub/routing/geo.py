"""Distances on the Earth and the checks coordinates must pass.

Great-circle distance by the haversine formula on a sphere of the Earth's mean
radius: within about 0.5 % of the ellipsoidal distance, far closer than the
choice between two warehouses needs.
"""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

from hub.core.exceptions import ValidationError

#: The Earth's mean radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in kilometres between two points given in degrees."""
    phi1, phi2 = radians(lat1), radians(lat2)
    dphi = phi2 - phi1
    dlambda = radians(lon2 - lon1)
    h = sin(dphi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(dlambda / 2) ** 2
    # min(): rounding can push h a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def check_coordinates(
    latitude: float | None, longitude: float | None
) -> tuple[float, float] | None:
    """The pair as floats, or None when both are missing.

    Raises :class:`ValidationError` naming the field when only one is given, a value
    is not a finite number, or it is out of range (latitude -90..90, longitude -180..180).
    """
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        missing = "latitude" if latitude is None else "longitude"
        raise ValidationError(
            "latitude and longitude go together: give both or neither",
            details={missing: "is missing while the other is given"},
        )
    errors: dict[str, str] = {}
    values: dict[str, float] = {}
    for name, value, bound in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            errors[name] = "is not a number"
            continue
        if not -bound <= number <= bound:  # also refuses NaN
            errors[name] = f"must be between -{bound:g} and {bound:g} degrees"
            continue
        values[name] = number
    if errors:
        raise ValidationError("coordinates out of range", details=errors)
    return values["latitude"], values["longitude"]
