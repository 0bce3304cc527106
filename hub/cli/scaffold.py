"""``hub plugin new``: write an installable plugin package that works as generated.

The package (``hub-<name>``, module ``hub_<name>``) holds a connector of the
role asked for, a sandbox of its service on :class:`hub.integration.sandbox.Sandbox`,
tests on :mod:`hub.testing` that pass against that sandbox before anything is
changed, a ``pyproject.toml`` with the ``hub.plugins`` entry point, and a README
saying what to change. The files are templates shipped with the hub
(``hub/cli/plugin_template/``: ``common/`` and one folder per role, the role's
files winning), filled in by plain replacement of ``{{name}}``-style tokens.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from hub.core.exceptions import ValidationError
from hub.integration.connectors import ROLES

#: A plugin's name: lower-case, a letter first, then letters, digits, ``_`` or ``-``.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
TEMPLATE_SUFFIX = ".tmpl"


@dataclass(frozen=True)
class PluginNames:
    """The names a plugin called ``name`` goes by, in each place they are written."""

    #: The plugin's and its connector's name, as the hub knows them (``acme_shop``).
    name: str
    #: The import name of its package (``hub_acme_shop``).
    module: str
    #: The distribution's name, for ``pip`` (``hub-acme-shop``).
    dist: str
    #: The prefix of its classes (``AcmeShop``).
    classes: str
    #: What a person reads (``Acme Shop``).
    label: str
    #: The middle of its HTTP header names (``Acme-Shop``).
    header: str
    role: str

    def tokens(self) -> dict[str, str]:
        return {
            "{{name}}": self.name,
            "{{module}}": self.module,
            "{{dist}}": self.dist,
            "{{Name}}": self.classes,
            "{{label}}": self.label,
            "{{Header}}": self.header,
            "{{role}}": self.role,
        }


def plugin_names(name: str, role: str) -> PluginNames:
    """The names of a new plugin; raise ValidationError (one line) for a name or role that cannot be."""
    if not NAME_PATTERN.match(name) or name.endswith(("-", "_")):
        raise ValidationError(
            f"plugin name {name!r} is not a slug: lower-case letters, digits, _ or -,"
            " starting with a letter, at most 40 characters (e.g. acme or acme_shop)"
        )
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    ident = name.replace("-", "_")
    if keyword.iskeyword(ident) or "__" in ident:
        raise ValidationError(f"plugin name {name!r} does not make a Python name")
    words = [w for w in ident.split("_") if w]
    return PluginNames(
        name=ident,
        module=f"hub_{ident}",
        dist=f"hub-{ident.replace('_', '-')}",
        classes="".join(w.capitalize() for w in words),
        label=" ".join(w.capitalize() for w in words),
        header="-".join(w.capitalize() for w in words),
        role=role,
    )


def refuse_clash(names: PluginNames, installed: dict[str, set[str]]) -> None:
    """Refuse a name an installed plugin or connector already has (``installed``: what of each)."""
    for what, taken in installed.items():
        for candidate in {names.name, names.module}:
            if candidate in taken:
                raise ValidationError(
                    f"{candidate!r} is already installed as a {what}: choose another name"
                )


def template_files(role: str) -> dict[str, Traversable]:
    """The templates of a role's package, by relative path (``MODULE/connector.py``)."""
    root = files("hub.cli").joinpath("plugin_template")
    found: dict[str, Traversable] = {}
    for part in ("common", role):  # the role's own files replace the common ones
        found.update(_walk(root.joinpath(part), ""))
    return found


def _walk(folder: Traversable, prefix: str) -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                found.update(_walk(entry, f"{prefix}{entry.name}/"))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found[prefix + entry.name[: -len(TEMPLATE_SUFFIX)]] = entry
    return found


def render(text: str, names: PluginNames) -> str:
    for token, value in names.tokens().items():
        text = text.replace(token, value)
    return text


def write_plugin(names: PluginNames, target: Path) -> list[Path]:
    """Write the package into ``target`` (which must not exist); the files written."""
    if target.exists():
        raise ValidationError(f"{target} already exists: choose another --dir or name")
    if not target.parent.is_dir():
        raise ValidationError(f"{target.parent} is not a folder")
    templates = template_files(names.role)
    written: list[Path] = []
    target.mkdir()
    for relative, template in sorted(templates.items()):
        path = target / relative.replace("MODULE", names.module).replace("NAME", names.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template.read_text(encoding="utf-8"), names), encoding="utf-8")
        written.append(path)
    return written
