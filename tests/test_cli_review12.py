"""`lotusx new-exchange` and `lotusx demo`, reviewed as a user: names, the generated test, arguments."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lotusx.cli import _parser, main
from lotusx.kernel.errors import ConfigError
from lotusx.scaffold import new_exchange
from tests.test_cli import ROOT, keep_logging  # noqa: F401 - the autouse fixture applies here too


def generated_tests(root: Path) -> subprocess.CompletedProcess[str]:
    """The generated package's own tests, run as its README says (offline)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(root)])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in ``path``."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("name", ["true", "none", "false", "order", "venue", "order-book", "levels"])
def test_new_exchange_refuses_a_name_whose_connector_class_would_not_work(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A class spelt as a keyword (None) or as a name the generated code imports (Order): status 2, no files."""
    assert main(["new-exchange", name, "--dir", str(tmp_path)]) == 2
    assert f"venue name {name!r}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_new_exchange_refuses_every_name_the_generated_modules_import(tmp_path: Path) -> None:
    """Each capitalised name imported beside the connector class is refused as a venue name."""
    package = new_exchange("acme", tmp_path) / "lotusx_acme"
    imported = {alias.asname or alias.name
                for module in ("__init__.py", "connector.py")
                for node in ast.walk(ast.parse((package / module).read_text()))
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    classes = sorted(name for name in imported - {"Acme"} if name[0].isupper() and not name.isupper())
    assert "Order" in classes
    for cls in classes:
        venue = re.sub(r"(?<!^)(?=[A-Z])", "-", cls).lower()  # OrderBook -> order-book
        with pytest.raises(ConfigError, match=re.escape(repr(venue))):
            new_exchange(venue, tmp_path / "refused")


def test_generated_test_fails_when_placement_is_not_declared_safe_with_client_id(tmp_path: Path) -> None:
    """An order endpoint declared plainly SAFE (re-sent after a lost answer: a double order) fails the test."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "endpoints.py", "idempotency=Idempotency.SAFE_WITH_CLIENT_ID",
         "idempotency=Idempotency.SAFE")
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]


def test_generated_test_fails_when_the_signer_signs_with_the_wrong_secret(tmp_path: Path) -> None:
    """A signer keyed with the API key instead of the secret (every real call refused) fails the test."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "__init__.py", "credentials.api_key, credentials.hmac_secret(),",
         "credentials.api_key, credentials.api_key,")
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1"])
def test_demo_refuses_a_stream_time_it_cannot_end_by(seconds: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--seconds nan or inf (the stream would never end) or below 0: a usage error, status 2."""
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["demo", f"--seconds={seconds}"])
    assert exit_info.value.code == 2
    assert "--seconds" in capsys.readouterr().err


def test_generated_package_is_ruff_clean_under_its_own_settings(tmp_path: Path) -> None:
    """`ruff check` in the new package, as its author runs it, finds nothing (it reads the package's pyproject)."""
    root = new_exchange("acme", tmp_path)
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
    done = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=root, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
