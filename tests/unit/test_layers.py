"""The house rules, read from the code's own imports: layers point down, plugins use the plugin API.

Every ``import`` counts, wherever it stands: at the top, inside a function, or
under ``TYPE_CHECKING``. A package may import itself, :mod:`hub` (``hookimpl``)
and packages on lower layers, never one on its own layer or above, so no two
packages can import each other. Plugins import :mod:`hub.integration`,
:mod:`hub.core` and ``hub.hookimpl``; their tests may use :mod:`hub.testing` and
read the store to check what happened. See ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Lowest first. A package may import only packages of lower layers (and itself).
LAYERS: list[set[str]] = [
    {"hub.core"},
    {"hub.store"},
    {"hub.integration"},
    {"hub.runtime"},
    {"hub.queue"},
    {"hub.accounts", "hub.inventory"},
    {"hub.routing"},
    {"hub.customers"},
    {"hub.orders"},
    {"hub.notifications", "hub.returns", "hub.replenishment"},
    {"hub.invoicing"},
    {"hub.purchasing"},
    {"hub.cases"},
    {"hub.aftercare"},
    {"hub.channels"},
    {"hub.pipeline"},
    {"hub.web"},
    {"hub.demo"},
    {"hub.cli"},
    {"hub.testing", "hub.__main__"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}

#: What plugin code (not its tests) may import of the hub.
PLUGIN_API = ("hub.integration", "hub.core")


def modules(*folders: str) -> Iterator[tuple[str, Path]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module imported) for every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # ``from hub import orders`` imports hub.orders
                yield node.lineno, f"{base}.{alias.name}"


def package_of(module: str) -> str | None:
    """The package of the house a module belongs to (``hub.orders.intake`` -> ``hub.orders``)."""
    parts = module.split(".")
    if parts[0] != "hub" or len(parts) < 2:
        return None
    candidate = ".".join(parts[:2])
    return candidate if candidate in RANK else None


def test_every_package_has_a_layer():
    on_disk = {
        f"hub.{p.name}" for p in (ROOT / "hub").iterdir() if (p / "__init__.py").exists()
    } | {f"hub.{p.stem}" for p in (ROOT / "hub").glob("*.py") if p.stem != "__init__"}
    assert on_disk - set(RANK) == set(), (
        "give each new package a layer in LAYERS (and docs/architecture.md)"
    )
    assert set(RANK) - on_disk == set()


def test_layers_point_down():
    wrong = []
    for name, path in modules("hub"):
        own = package_of(name)
        if own is None:
            continue
        for line, target in imports(name, path):
            if target.split(".")[0] == "plugins":
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line} imports {target}: the hub never imports plugins"
                )
                continue
            other = package_of(target)
            if other is None or other == own:
                continue
            if RANK[other] >= RANK[own]:
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line} ({own}) imports {target} ({other}), "
                    f"which is not on a lower layer"
                )
    assert wrong == []


def test_core_imports_nothing_of_the_hub():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules("hub/core")
        for line, target in imports(name, path)
        if target == "hub" or (target.startswith("hub.") and not target.startswith("hub.core"))
    ]
    assert wrong == []


def test_plugins_use_only_the_plugin_api():
    wrong = []
    for name, path in modules("plugins"):
        if ".tests" in name or name.endswith(".conftest"):
            continue
        for line, target in imports(name, path):
            if target.split(".")[0] != "hub" or target in ("hub", "hub.hookimpl"):
                continue
            if not any(target == api or target.startswith(api + ".") for api in PLUGIN_API):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from hub.orders import intake\n", "hub.orders.intake"),
        ("def f():\n    from hub.web import create_app\n", "hub.web.create_app"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import hub.cli.main\n",
            "hub.cli.main",
        ),
    ],
)
def test_every_kind_of_import_is_seen(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert expected in {target for _, target in imports("hub.core.probe", path)}
