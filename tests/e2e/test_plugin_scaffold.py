"""`hub plugin new`: a package that installs with pip and whose tests pass as generated.

The proof runs as a plugin author would: the command in a real process, then
``pip install -e`` into a virtualenv of its own (never the hub's: its tests
would load the plugin) and ``pytest`` in the package. The virtualenv sees the
hub and its dependencies through a ``.pth`` file, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest

from hub.cli import scaffold
from hub.core.exceptions import ValidationError
from hub.integration.connectors import ROLES

ROOT = Path(__file__).resolve().parents[2]
#: A name per role: several plugins installed in one virtualenv must not clash.
ROLE_NAMES = {
    "sales": "acme",
    "payment": "acme_pay",
    "shipping": "acme_ship",
    "erp": "acme_erp",
    "notification": "acme_notes",
    "tracking": "acme_track",
}


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 300):
    env = dict(os.environ)
    # The generated tests make their own hubs: never the caller's PostgreSQL test
    # database, nor plugins the caller named.
    for name in ("HUB_TEST_DATABASE_URL", "HUB_PLUGINS", "PYTEST_ADDOPTS", "PYTHONPATH"):
        env.pop(name, None)
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def new_plugin(name: str, parent: Path, *extra: str):
    return run(sys.executable, "-m", "hub", "plugin", "new", name, "--dir", parent, *extra)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A virtualenv of its own that sees the hub (and its dependencies) through a .pth file."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", home)
    assert made.returncode == 0, made.stderr
    [site] = (home / "lib").glob("python3*/site-packages")
    hub_site = sysconfig.get_paths()["purelib"]
    (site / "hub_dev.pth").write_text(f"import site; site.addsitedir({hub_site!r})\n")
    return home / "bin" / "python"


def install_and_test(python: Path, package: Path) -> tuple[float, str]:
    installed = run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        package,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    started = time.perf_counter()
    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    seconds = time.perf_counter() - started
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    return seconds, tested.stdout


@pytest.mark.slow
def test_a_new_sales_plugin_installs_and_its_tests_pass(venv, tmp_path):
    started = time.perf_counter()
    made = new_plugin("acme", tmp_path)
    scaffold_seconds = time.perf_counter() - started
    assert made.returncode == 0, made.stderr
    package = tmp_path / "acme"
    assert f"pip install -e {package}" in made.stdout

    seconds, output = install_and_test(venv, package)
    summary = re.search(r"(\d+) passed", output)
    assert (
        summary
        and int(summary.group(1)) >= 8
        and "failed" not in output
        and "skipped" not in output
    )

    # The hub in that environment finds it through its entry point.
    listed = run(venv, "-m", "hub", "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    [acme] = [p for p in json.loads(listed.stdout) if p["name"] == "acme"]
    assert (acme["version"], acme["distribution"], acme["module"]) == (
        "0.1.0",
        "hub-acme",
        "hub_acme",
    )
    assert acme["hooks"] == ["hub_register_connectors", "hub_register_sandboxes"]
    [connector] = acme["connectors"]
    assert connector["roles"] == ["sales"]
    assert connector["capabilities"] == ["pull_orders", "webhooks"]
    assert set(connector["secret_fields"]) == {"api_key", "webhook_secret"}

    lines = len((package / "hub_acme" / "connector.py").read_text().splitlines())
    print(
        f"\nscaffold: {scaffold_seconds:.2f}s (process included); connector: {lines} lines; "
        f"generated tests: {summary.group(0)} in {seconds:.2f}s (process included)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("role", [r for r in ROLES if r != "sales"])
def test_every_role_s_plugin_installs_and_its_tests_pass(venv, tmp_path, role):
    name = ROLE_NAMES[role]
    made = new_plugin(name, tmp_path, "--role", role)
    assert made.returncode == 0, made.stderr
    seconds, output = install_and_test(venv, tmp_path / name)
    assert re.search(r"\d+ passed", output) and "skipped" not in output
    print(f"\n{role}: {output.strip().splitlines()[-1]}")


@pytest.mark.parametrize("role", ROLES)
def test_the_generated_code_is_lint_clean(tmp_path, role):
    names = scaffold.plugin_names("acme_marketplace", role)
    scaffold.write_plugin(names, tmp_path / "pkg")
    ruff = Path(sys.executable).with_name("ruff")
    checked = run(ruff, "check", "--no-cache", ".", cwd=tmp_path / "pkg")
    assert checked.returncode == 0, checked.stdout
    formatted = run(ruff, "format", "--no-cache", "--check", ".", cwd=tmp_path / "pkg")
    assert formatted.returncode == 0, formatted.stdout
    leftovers = [
        str(p) for p in (tmp_path / "pkg").rglob("*") if p.is_file() and "{{" in p.read_text()
    ]
    assert leftovers == []


def test_the_package_is_written_where_asked_with_its_entry_point(tmp_path):
    made = new_plugin("acme-shop", tmp_path, "--role", "payment")
    assert made.returncode == 0, made.stderr
    package = tmp_path / "acme-shop"
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert project["name"] == "hub-acme-shop"
    assert project["dependencies"] == ["hub"]
    assert project["entry-points"]["hub.plugins"] == {"acme_shop": "hub_acme_shop"}
    connector = (package / "hub_acme_shop" / "connector.py").read_text()
    assert "class AcmeShopConnector(PaymentConnector):" in connector
    assert 'name = "acme_shop"' in connector
    assert (package / "tests" / "test_acme_shop.py").is_file()
    assert "what to change" in (package / "README.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["Acme"], "error: plugin name 'Acme' is not a slug"),
        (["9lives"], "error: plugin name '9lives' is not a slug"),
        (["acme.shop"], "error: plugin name 'acme.shop' is not a slug"),
        (["class"], "error: plugin name 'class' does not make a Python name"),
        (["shopify"], "error: 'shopify' is already installed as a plugin: choose another name"),
        (["erp_csv", "--role", "erp"], "error: 'erp_csv' is already installed as a plugin"),
    ],
)
def test_names_that_cannot_be_are_refused_in_one_line(cli, tmp_path, args, message):
    (tmp_path / "out").mkdir()
    result = cli("plugin", "new", *args, "--dir", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_folder_is_never_written_into(cli, tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "notes.txt").write_text("mine")
    result = cli("plugin", "new", "acme", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert (
        result.output
        == f"error: {tmp_path / 'acme'} already exists: choose another --dir or name\n"
    )
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["notes.txt"]


def test_a_name_an_installed_connector_has_is_refused():
    names = scaffold.plugin_names("vault", "sales")
    with pytest.raises(ValidationError, match="'vault' is already installed as a connector"):
        scaffold.refuse_clash(names, {"plugin": {"shopify"}, "connector": {"vault"}})


def test_the_templates_ship_with_the_package():
    """A non-editable install carries every template (package data), not only this checkout."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["hub"]
    shipped = {p for pattern in patterns for p in (ROOT / "hub").glob(pattern) if p.is_file()}
    templates = {p for p in (ROOT / "hub" / "cli" / "plugin_template").rglob("*.tmpl")}
    assert templates and templates <= shipped
    for role in ROLES:
        assert {"pyproject.toml", "README.md", "MODULE/connector.py", "tests/test_NAME.py"} <= set(
            scaffold.template_files(role)
        )
