"""`lotusx new-exchange`, followed as a venue author: what the package ships, and its test once filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.scaffold import new_exchange
from tests.test_cli import keep_logging  # noqa: F401 - the autouse fixture applies here too
from tests.test_cli_review12 import edit, generated_tests

# A reconcile hook as the generated __init__.py's TODO asks for one: the order looked up by its client id.
RECONCILE = '''

async def reconcile(call: Service, placed: Request) -> Response | None:
    """The order placed, looked up by its client id (GET on the order path)."""
    query = (("symbol", "BTCUSDT"), ("origClientOrderId", str(placed.ext["client_order_id"])))
    return await call(Request(method="GET", path=ep.PLACE_ORDER.path, query=query, endpoint=LOOKUP))


LOOKUP = Endpoint("order", "GET", ep.PLACE_ORDER.path, costs={ep.WEIGHT: 2}, signed=True)
'''


def test_the_package_is_marked_typed(tmp_path: Path) -> None:
    """The package ships py.typed (PEP 561), so its users' mypy --strict reads its types once installed."""
    root = new_exchange("acme", tmp_path)
    assert (root / "lotusx_acme" / "py.typed").is_file()


def test_the_generated_test_still_passes_once_a_reconcile_hook_is_declared(tmp_path: Path) -> None:
    """Declaring the reconcile the TODO asks for keeps the test green: its fake venue finds no order by lookup."""
    root = new_exchange("acme", tmp_path)
    package = root / "lotusx_acme" / "__init__.py"
    edit(package, "from lotusx import Credentials, Request, Service",
         "from lotusx import Credentials, Endpoint, Request, Response, Service")
    edit(package, "\n\nVENUE = Venue(", RECONCILE + "\n\nVENUE = Venue(")
    edit(package, "    connector=Acme,\n", "    connector=Acme,\n    reconcile=reconcile,\n")
    done = generated_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_name_not_starting_with_a_letter_is_refused_saying_so(tmp_path: Path) -> None:
    """'1inch' is lower-case letters and digits: the refusal says what is wrong with it, the first character."""
    with pytest.raises(ConfigError, match="start with a letter"):
        new_exchange("1inch", tmp_path)
