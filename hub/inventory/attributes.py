"""SKU attributes: what a unit weighs and measures, and whether it is hazardous or fragile.

Weight in grams, length, width and height in millimetres (whole numbers; empty
when not known). Set one SKU at a time (:func:`set_attributes`, the API and the
admin's SKU page) or many from a CSV file (:func:`import_csv`), which, like the
stock import (:mod:`hub.inventory.bulk`), applies every valid row and returns the
refused ones with their line number and reason. Routing reads them through
:func:`hub.routing.service_levels.parcel_for`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.store.models import OrderLine, SkuAttributes, StockLevel, utcnow

#: The columns of the CSV file (``sku`` and at least one other are required).
CSV_COLUMNS = ("sku", "weight_grams", "length_mm", "width_mm", "height_mm", "hazardous", "fragile")
#: Rows one import takes at most.
MAX_ROWS = 50_000
MAX_GRAMS = 10_000_000  # ten tonnes
MAX_MM = 100_000  # a hundred metres
#: How a CSV cell says yes or no.
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", ""})

FIELDS = ("weight_grams", "length_mm", "width_mm", "height_mm", "hazardous", "fragile")


class SkuAttributesSchema(Schema):
    """A SKU's attributes as the API and the admin give them (fields left out stay as they are)."""

    weight_grams = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_GRAMS),
        metadata={"description": "Weight of one unit in grams; null: not known."},
    )
    length_mm = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_MM),
        metadata={"description": "Length of one unit in millimetres."},
    )
    width_mm = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_MM)
    )
    height_mm = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_MM)
    )
    hazardous = fields.Boolean(
        metadata={"description": "Dangerous goods: a ground-only rule keeps them off planes."}
    )
    fragile = fields.Boolean()


def as_json(sku: str, row: SkuAttributes | None) -> dict[str, Any]:
    """A SKU's attributes as the API shows them (all null/false when none are set)."""
    return {
        "sku": sku,
        "weight_grams": row.weight_grams if row else None,
        "length_mm": row.length_mm if row else None,
        "width_mm": row.width_mm if row else None,
        "height_mm": row.height_mm if row else None,
        "hazardous": bool(row.hazardous) if row else False,
        "fragile": bool(row.fragile) if row else False,
        "updated_by": row.updated_by if row else "",
        "updated_at": row.updated_at.isoformat() if row and row.updated_at else None,
    }


def _errors(exc: SchemaError) -> dict[str, str]:
    messages = exc.normalized_messages()
    assert isinstance(messages, dict)
    return {
        k: "; ".join(str(m) for m in v) if isinstance(v, list) else str(v)
        for k, v in messages.items()
    }


def check(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values checked. :raises ValidationError: with each wrong field and why."""
    try:
        return SkuAttributesSchema().load(dict(values))
    except SchemaError as exc:
        details = _errors(exc)
        raise ValidationError(
            "attributes not saved: " + "; ".join(f"{k}: {v}" for k, v in details.items()),
            details=details,
        ) from None


def get(session: Session, sku: str) -> SkuAttributes | None:
    return session.get(SkuAttributes, sku)


def set_attributes(
    session: Session, sku: str, values: Mapping[str, Any], *, actor: str
) -> SkuAttributes:
    """Set a SKU's attributes (those given; the others stay). :raises ValidationError."""
    body = check(values)
    row = session.get(SkuAttributes, sku)
    if row is None:
        row = SkuAttributes(sku=sku, hazardous=False, fragile=False)
        session.add(row)
    for name, value in body.items():
        setattr(row, name, value)
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    return row


def known_skus(session: Session, skus: list[str]) -> set[str]:
    """Which of these SKUs the hub knows (on a stock level or an order line)."""
    found: set[str] = set()
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        found.update(session.scalars(select(StockLevel.sku).where(StockLevel.sku.in_(chunk))))
        rest = [s for s in chunk if s not in found]
        if rest:
            found.update(session.scalars(select(OrderLine.sku).where(OrderLine.sku.in_(rest))))
    return found


@dataclass
class ImportResult:
    changed: int = 0
    #: (line number in the file, SKU, reason) for each row that was refused.
    refused: list[tuple[int, str, str]] = field(default_factory=list)


def _cell(name: str, raw: str) -> Any:
    text = raw.strip()
    if name in ("hazardous", "fragile"):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"{name} {text!r} is not yes or no")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a whole number") from None


def import_csv(session: Session, text: str, *, actor: str) -> ImportResult:
    """Apply a CSV file of attributes: every valid row; the others come back with their reason.

    The header names the columns (:data:`CSV_COLUMNS`; ``sku`` and at least one
    other). A column left out of the file leaves that attribute as it is; an empty
    number cell clears it. Later rows of the same SKU win. Unknown SKUs are refused.

    :raises ValidationError: the file itself is unusable (no header, unknown columns,
        too many rows).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if "sku" not in header or len(header) < 2 or unknown:
        raise ValidationError(
            "the file needs a header with sku and at least one of "
            + ", ".join(CSV_COLUMNS[1:])
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            details={"header": ",".join(header)},
        )
    reader.fieldnames = header
    result = ImportResult()
    wanted: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise ValidationError(f"the file has more than {MAX_ROWS} rows: split it")
        sku = (row.get("sku") or "").strip()
        if not sku:
            result.refused.append((number, "", "no sku"))
            continue
        try:
            values = {name: _cell(name, row.get(name) or "") for name in header if name != "sku"}
            wanted[sku] = (number, check(values))
        except ValueError as exc:
            result.refused.append((number, sku, str(exc)))
        except ValidationError as exc:
            result.refused.append((number, sku, str(exc)))
    known = known_skus(session, sorted(wanted))
    for sku, (number, values) in wanted.items():
        if sku not in known:
            result.refused.append((number, sku, f"SKU {sku!r} does not exist"))
            continue
        set_attributes(session, sku, values, actor=actor)
        result.changed += 1
    result.refused.sort()
    return result
