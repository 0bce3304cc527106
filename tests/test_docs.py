"""The plugin guide documents every hook with the exact signature of its spec."""

import inspect
import re
from pathlib import Path

from hub.integration import hookspecs

DOC = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()


def specs():
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("hub_")
    }


def signature_line(name, fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {name}({params}) -> {sig.return_annotation}"


def test_every_hook_is_documented_with_its_exact_signature():
    for name, fn in specs().items():
        assert f"#### {name}\n" in DOC, f"{name} has no section in docs/plugins.md"
        assert signature_line(name, fn) in DOC, f"{name}: docs/plugins.md shows another signature"


def test_the_docs_describe_no_hook_that_does_not_exist():
    documented = set(re.findall(r"^#### (hub_\w+)$", DOC, flags=re.M))
    assert documented == set(specs())


def test_every_hook_has_a_docstring_and_types():
    for name, fn in specs().items():
        assert fn.__doc__ and fn.__doc__.strip(), name
        sig = inspect.signature(fn)
        assert sig.return_annotation is not inspect.Signature.empty, name
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), (
            name
        )
