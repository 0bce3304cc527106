"""The plugin API reference, ``docs/reference.md``, generated from the code.

Everything on the page comes from the modules it documents: docstrings, the
fields of dataclasses with their types, defaults and ``#:`` comments, the
attributes and operations of protocols and role classes with their signatures
as written. What is true of a connector is written once, beside the code it
describes, and the page cannot drift from it: ``tests/test_reference.py``
fails while the committed page differs from what this module prints.

Regenerate the page with (from the repository's root)::

    python -m hub.integration.reference > docs/reference.md

A section lists its module's names in the order given here; any other public
class or function defined in the module (and any module-level name with a
``#:`` comment) follows them, so something new is on the page the day it is
added. Names in ``skip`` are the hub's own, not for plugins.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: The command that writes the page; the docs test names it when the page is stale.
REGENERATE = "python -m hub.integration.reference > docs/reference.md"


@dataclass(frozen=True)
class Section:
    """One section of the page: a module, the names to show first, and those to leave out."""

    title: str
    module: str
    #: Shown first, in this order.
    names: tuple[str, ...] = ()
    #: Public names of the module left off the page (the hub's own machinery).
    skip: tuple[str, ...] = ()
    #: Add the module's other public names after ``names`` (False: only ``names``).
    complete: bool = True


SECTIONS: tuple[Section, ...] = (
    Section(
        "Connectors",
        "hub.integration.connectors",
        names=(
            "Connector",
            "SalesConnector",
            "PaymentConnector",
            "ShippingConnector",
            "ErpConnector",
            "NotificationConnector",
            "TrackingConnector",
            "Capability",
            "ChannelInfo",
            "WebhookReceipt",
            "WebhookOutcome",
            "WebhookStatus",
            "OrderPage",
            "StockLevel",
            "ShippingOrder",
            "ShipmentNotice",
            "SubmissionRejected",
            "TrackedShipment",
            "CarrierUpdate",
            "CarrierCheckpoint",
            "PaymentRef",
            "PaymentResult",
            "RefundResult",
            "Delivery",
            "ROLES",
            "ROLE_CLASSES",
            "CAPABILITY_OPERATIONS",
            "can",
            "check_connector",
        ),
    ),
    Section(
        "The order model",
        "hub.core.order",
        names=(
            "OrderData",
            "Line",
            "Customer",
            "Address",
            "PaymentData",
            "ChannelRefund",
            "ShipmentData",
            "PaymentUpdate",
            "RefundData",
            "expected_total",
            "amount_errors",
        ),
        skip=("LineRevision", "revise_lines"),
    ),
    Section("HubPort: what a connector may change", "hub.integration.port"),
    Section("OrderLookup: what an order rule may read", "hub.integration.lookup"),
    Section("Jobs", "hub.integration.jobs", names=("JobContext", "PeriodicJob", "JobHandler")),
    Section(
        "ErpExchange: the ERP connector's side of the hub",
        "hub.integration.erp",
        names=(
            "ErpExchange",
            "ExportRun",
            "ExportOrder",
            "ExportLine",
            "StockCount",
            "StockApplied",
            "ImportClaim",
            "EarlierImport",
            "ImportOutcome",
            "folder_in_root",
            "spreadsheet_cell",
            "spreadsheet_value",
            "FORMULA_STARTS",
        ),
    ),
    Section(
        "HTTP: the one client every connector uses",
        "hub.integration.http",
        names=("HttpClient", "RateLimiter", "LeakyBucketLimiter", "HttpStatusError"),
    ),
    Section("Signatures", "hub.integration.signing"),
    Section(
        "Sandboxes: the services, simulated on loopback",
        "hub.integration.sandbox",
        names=("Sandbox", "route", "Answer", "FaultPlan", "Strike", "Fault", "serve"),
    ),
    Section("Order events", "hub.core.events", names=("OrderEvent",), complete=False),
    Section(
        "Carrier events: what a tracking connector reports",
        "hub.core.tracking",
        names=("CarrierEvent", "PROBLEMS", "all_delivered", "carrier_event_words"),
    ),
    Section(
        "Money: exact amounts",
        "hub.core.money",
        names=("Money", "MoneyError", "MAX_AMOUNT", "currency_code", "exponent"),
        complete=False,
    ),
    Section("Errors", "hub.core.exceptions"),
    Section("Hooks", "hub.integration.hookspecs"),
)

INTRO = f"""\
# Plugin API reference

<!-- Generated by hub/integration/reference.py from the code: do not edit.
     Regenerate: {REGENERATE} -->

What a plugin is given and what it returns, generated from the code: the
docstrings, the dataclasses (fields, types, defaults and their `#:` comments),
the protocols and the role classes of the modules below, with every signature
as it is written. [Writing a plugin](plugins.md) is the guide; this page is
the contract. `tests/test_reference.py` fails while this page and the code
differ: regenerate it with `{REGENERATE}`.

The hand-written parts live in the docstrings too: the connector's
[life cycle and threads](#connector), what
[`push_stock`](#salesconnectorpush_stock) receives and when, the shipment
[`push_fulfillment`](#salesconnectorpush_fulfillment) is given, and
[webhook event ids](#webhookreceipt) when a provider sends none that is
stable across re-deliveries.
"""


# --- reading the source ---------------------------------------------------------------------


class Source:
    """A module's source: its syntax tree and the comments the tree leaves out."""

    def __init__(self, module: ModuleType):
        self.module = module
        self.text = inspect.getsource(module)
        # Lines as the tree counts them (str.splitlines would also split at form feeds).
        self.lines = re.split(r"\r\n|\r|\n", self.text)
        #: The lines as UTF-8, which the tree's column offsets count in.
        self.encoded = [line.encode() for line in self.lines]
        self.tree = ast.parse(self.text)
        #: Line -> the comment ending it, where code comes first on that line.
        self.trailing: dict[int, str] = {}
        for token in tokenize.generate_tokens(io.StringIO(self.text).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                if self.lines[row - 1][:col].strip():
                    self.trailing[row] = token.string.lstrip("#").strip()

    def definitions(self) -> dict[str, ast.stmt]:
        """Top-level classes, functions and assignments, by name, in source order."""
        found: dict[str, ast.stmt] = {}
        for node in self.tree.body:
            for name in _names(node):
                found.setdefault(name, node)
        return found

    def doc_comment(self, node: ast.stmt) -> str:
        """The ``#:`` lines just above ``node``, else the comment ending its line."""
        above: list[str] = []
        row = node.lineno - 2
        while row >= 0 and self.lines[row].strip().startswith("#:"):
            above.insert(0, self.lines[row].strip()[2:].strip())
            row -= 1
        if above:
            return " ".join(above)
        trailing = self.trailing.get(node.end_lineno or node.lineno, "")
        return "" if trailing.startswith(("noqa", "type:")) else trailing

    def segment(self, node: ast.AST) -> str:
        """``node``'s source as written (``ast.get_source_segment``, without its re-split)."""
        end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            return ast.unparse(node)
        rows = self.encoded[node.lineno - 1 : end_line]  # type: ignore[attr-defined]
        col: int = node.col_offset  # type: ignore[attr-defined]
        if len(rows) == 1:
            return rows[0][col:end_col].decode()
        return b"\n".join([rows[0][col:], *rows[1:-1], rows[-1][:end_col]]).decode()


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


# --- markdown -------------------------------------------------------------------------------


def anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj):`(~?)([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_SPAN = re.compile(r"``.*?``|:\w+:`[^`]*`", flags=re.S)
_FIELD = re.compile(
    r"^:(param|parameter|arg|ivar|return|returns|raises|raise)(?:\s+([^:]+))?:\s*(.*)$"
)


def _one_line(match: re.Match[str]) -> str:
    span = match.group(0)
    return " ".join(span.split()) if "\n" in span else span


class Page:
    """The page being written: its lines and the anchors of what it documents."""

    def __init__(self) -> None:
        self.out: list[str] = []
        #: Documented name ("Connector", "SalesConnector.push_stock") -> its anchor.
        self.anchors: dict[str, str] = {}

    def write(self, *lines: str) -> None:
        self.out.extend(lines)

    def text(self, value: str) -> str:
        """Inline reST (``literal``, :class:`roles`) as markdown, linking what the page documents."""

        def role(match: re.Match[str]) -> str:
            short, target = match.groups()
            target = target.lstrip(".")
            shown = target.rsplit(".", 1)[-1] if short else target
            parts = target.split(".")
            for key in (target, ".".join(parts[-2:]), parts[-1]):
                if key in self.anchors:
                    return f"[`{shown}`](#{self.anchors[key]})"
            return f"`{shown}`"

        value = _ROLE.sub(role, value)
        return _LITERAL.sub(lambda m: f"`{m.group(1)}`", value)

    def docstring(self, doc: str | None) -> list[str]:
        """A docstring as markdown paragraphs: fields as lists, ``::`` blocks as code."""
        if not doc:
            return []
        # A literal or role broken over two lines is one span: join its lines.
        joined = _SPAN.sub(_one_line, inspect.cleandoc(doc))
        lines = joined.splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            field = _FIELD.match(line)
            if field:
                kind, name, rest = field.groups()
                i += 1
                while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                    rest += " " + lines[i].strip()
                    i += 1
                if out and out[-1] and not out[-1].startswith("- "):
                    out.append("")
                if kind in ("return", "returns"):
                    out.append(f"- returns: {self.text(rest)}")
                elif kind in ("raises", "raise"):
                    error = (name or "").strip()
                    out.append(f"- raises {self.text(f':exc:`{error}`')}: {self.text(rest)}")
                else:
                    out.append(f"- `{(name or '').strip()}`: {self.text(rest)}")
                continue
            if i + 1 < len(lines) and line.strip() and re.fullmatch(r"-{3,}", lines[i + 1]):
                out.extend(["", f"**{line.strip()}**", ""])
                i += 2
                continue
            if out and out[-1].startswith("- returns") and line.strip():
                out.append("")
            if line.rstrip().endswith("::"):
                intro = line.rstrip()[:-1]
                out.append(self.text(intro) if intro.strip(": ") else "")
                i += 1
                block: list[str] = []
                while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                    block.append(lines[i])
                    i += 1
                code = inspect.cleandoc("\n".join(block))
                out.extend(["", "```python", *code.splitlines(), "```", ""])
                continue
            out.append(self.text(line))
            i += 1
        return [*out, ""]


# --- rendering ------------------------------------------------------------------------------


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef, source: Source) -> str:
    """``def name(params) -> returns`` as written; one parameter a line when long."""
    params = _parameters(node.args, source)
    returns = f" -> {source.segment(node.returns)}" if node.returns else ""
    head = f"def {node.name}({', '.join(params)}){returns}"
    if len(head) > 92:
        head = f"def {node.name}(\n" + "".join(f"    {p},\n" for p in params) + f"){returns}"
    decorators = [f"@{ast.unparse(d)}" for d in node.decorator_list if ast.unparse(d) != "hookspec"]
    return "\n".join([*decorators, head])


def _parameters(args: ast.arguments, source: Source) -> list[str]:
    """Each parameter as PEP 8 writes it (``partial: bool = False``), with ``/`` and ``*``."""

    def one(arg: ast.arg, default: ast.expr | None, prefix: str = "") -> str:
        text = prefix + arg.arg
        if arg.annotation is not None:
            text += f": {source.segment(arg.annotation)}"
        if default is not None:
            text += (" = " if arg.annotation is not None else "=") + source.segment(default)
        return text

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    out = [one(a, d) for a, d in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        out.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        out.append(one(args.vararg, None, "*"))
    elif args.kwonlyargs:
        out.append("*")
    out += [one(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg is not None:
        out.append(one(args.kwarg, None, "**"))
    return out


def _default(node: ast.expr | None, source: Source) -> str:
    """A field's default as a reader thinks of it (``field(default_factory=dict)`` is ``{}``)."""
    if node is None:
        return ""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "field":
        for keyword in node.keywords:
            if keyword.arg == "default":
                return source.segment(keyword.value)
            if keyword.arg == "default_factory":
                factory = keyword.value
                if isinstance(factory, ast.Name) and factory.id in ("dict", "list", "set"):
                    return {"dict": "{}", "list": "[]", "set": "set()"}[factory.id]
                if isinstance(factory, ast.Lambda):
                    return source.segment(factory.body)
                return f"{source.segment(factory)}()"
        return ""
    return source.segment(node)


def _attribute_lines(page: Page, node: ast.stmt, source: Source) -> list[str]:
    """A field, attribute or enum member as one list item: ``name: type = default`` — its comment."""
    comment = source.doc_comment(node)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        shown = f"{node.target.id}: {source.segment(node.annotation)}"
        default = _default(node.value, source)
        if default:
            shown += f" = {default}"
    elif isinstance(node, ast.Assign):
        shown = f"{', '.join(_names(node))} = {source.segment(node.value)}"
    else:
        return []
    shown = " ".join(shown.split())
    return [f"- `{shown}`" + (f" — {page.text(comment)}" if comment else "")]


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name == "__init__"


def _class_header(node: ast.ClassDef) -> str:
    decorators = [f"@{ast.unparse(d)}" for d in node.decorator_list]
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    return "\n".join([*decorators, f"class {node.name}" + (f"({bases})" if bases else "")])


def _render_class(page: Page, cls: type, node: ast.ClassDef, source: Source) -> None:
    page.write(f"### `{node.name}`", "", "```python", _class_header(node), "```", "")
    page.write(*page.docstring(ast.get_docstring(node, clean=False)))
    attributes: list[str] = []
    properties: list[str] = []
    methods: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for item in node.body:
        if isinstance(item, ast.AnnAssign | ast.Assign):
            names = _names(item)
            if names and all(_is_public(n) and n != "__init__" for n in names):
                attributes.extend(_attribute_lines(page, item, source))
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(item.name):
            decorators = {ast.unparse(d) for d in item.decorator_list}
            if "property" in decorators:
                returns = f": {ast.unparse(item.returns)}" if item.returns else ""
                said = " ".join(inspect.cleandoc(ast.get_docstring(item) or "").split())
                line = f"- `{item.name}{returns}` (read-only)"
                properties.append(line + (f" — {page.text(said)}" if said else ""))
            elif item.name != "__init__" or _takes_arguments(item, cls):
                methods.append(item)
    kind = "Members" if _is_enum(cls) else "Fields" if _is_dataclass(cls) else "Attributes"
    if attributes or properties:
        page.write(f"{kind}:", "", *attributes, *properties, "")
    for method in methods:
        title = f"{node.name}.{method.name}"
        page.write(f"#### `{title}`", "", "```python", _signature(method, source), "```", "")
        # An override without a docstring has its base's contract (inspect.getdoc finds it).
        doc = ast.get_docstring(method, clean=False)
        if doc is None and method.name != "__init__":
            doc = inspect.getdoc(getattr(cls, method.name))
        page.write(*page.docstring(doc))


def _render_function(page: Page, fn: Any, node: ast.FunctionDef, source: Source) -> None:
    page.write(f"### `{node.name}`", "", "```python", _signature(node, source), "```", "")
    spec = getattr(fn, "hub_spec", None)
    flags = [name for name in ("firstresult", "historic") if spec and spec.get(name)]
    if flags:
        page.write(f"Hook options: {', '.join(f'`{f}`' for f in flags)}.", "")
    page.write(*page.docstring(fn.__doc__))


def _render_data(page: Page, name: str, node: ast.stmt, source: Source) -> None:
    page.write(f"### `{name}`", "")
    comment = source.doc_comment(node)
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        code = f"{name}: {source.segment(node.annotation)} = {source.segment(node.value)}"
    elif isinstance(node, ast.Assign):
        code = f"{name} = {source.segment(node.value)}"
    else:
        code = source.segment(node)
    page.write("```python", code, "```", "")
    if comment:
        page.write(page.text(comment), "")


def _takes_arguments(init: ast.FunctionDef | ast.AsyncFunctionDef, cls: type) -> bool:
    """Whether an ``__init__`` is worth showing: written by hand, with arguments besides self."""
    args = init.args
    given = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return not _is_dataclass(cls) and len([a for a in given if a is not None]) > 1


def _is_dataclass(cls: type) -> bool:
    return "__dataclass_fields__" in vars(cls)


def _is_enum(cls: type) -> bool:
    from enum import Enum

    return isinstance(cls, type) and issubclass(cls, Enum)


def documented(section: Section) -> Iterator[tuple[str, ast.stmt]]:
    """The names a section shows, in order, with their definitions."""
    module = importlib.import_module(section.module)
    source = Source(module)
    definitions = source.definitions()
    names = list(section.names)
    if section.complete:
        for name, node in definitions.items():
            if name in names or name in section.skip or name.startswith("_"):
                continue
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                names.append(name)
            elif source.doc_comment(node) and source.lines[node.lineno - 2].strip().startswith(
                "#:"
            ):
                names.append(name)
    for name in names:
        if name not in definitions:
            raise LookupError(f"{section.module} defines no {name} (hub.integration.reference)")
        yield name, definitions[name]


def generate() -> str:
    """The whole page, as ``docs/reference.md`` holds it."""
    page = Page()
    plan = [(section, list(documented(section))) for section in SECTIONS]
    for _section, items in plan:  # anchors first, so that any part may link to any other
        for name, node in items:
            page.anchors[name] = anchor(name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        page.anchors[f"{name}.{item.name}"] = anchor(f"{name}.{item.name}")
    page.write(INTRO)
    page.write("## Contents", "")
    for section, items in plan:
        links = ", ".join(f"[{name}](#{anchor(name)})" for name, _ in items)
        page.write(f"- [{section.title}](#{anchor(section.title)}): {links}")
    page.write("")
    for section, items in plan:
        module = importlib.import_module(section.module)
        source = Source(module)
        page.write(f"## {section.title}", "", f"`{section.module}`", "")
        page.write(*page.docstring(module.__doc__))
        for name, node in items:
            value = getattr(module, name)
            if isinstance(node, ast.ClassDef):
                _render_class(page, value, node, source)
            elif isinstance(node, ast.FunctionDef):
                _render_function(page, value, node, source)
            else:
                _render_data(page, name, node, source)
    text = "\n".join(page.out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())
