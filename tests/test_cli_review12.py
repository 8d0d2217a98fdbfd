"""`lotusx new-exchange` and `lotusx demo`, reviewed as a user: names, the generated test, arguments."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from lotusx.cli import main
from lotusx.kernel.errors import ConfigError
from lotusx.scaffold import new_exchange


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """main() configures structlog for the command (stderr, warnings): put the tests' own back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


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
