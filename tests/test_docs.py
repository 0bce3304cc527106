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


def test_every_test_the_threat_model_names_exists():
    """docs/security.md proves each line with a test: each one it names must be there."""
    root = Path(__file__).parent.parent
    text = (root / "docs" / "security.md").read_text()
    named: list[tuple[str, str]] = []
    path = ""
    for ref in re.findall(r"`((?:tests|plugins)/[\w/]+\.py)?(?:::(\w+))?`", text):
        file, test = ref
        if file:
            path = file
        if test:
            named.append((path, test))
        elif file:
            assert (root / file).is_file(), f"docs/security.md names {file}, which is not there"
    assert len(named) > 40
    for file, test in named:
        source = (root / file).read_text()
        assert re.search(rf"^def {test}\(", source, flags=re.M), f"{file}::{test} is not a test"
