"""`lotusx new-exchange`, followed as a venue author: what the package ships, and its test once filled in."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import lotusx
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


# An author's own test beside the generated one: a venue answering a cancel with a side it spells "buy".
UNMAPPED_SIDE = '''
import lotusx
import pytest

import lotusx
from lotusx import Credentials, Request, Response
from lotusx.testing import FakeTransport

from lotusx_acme import VENUE
from tests.test_lotusx_acme import KEY, SECRET, fake_venue


def lower_case_sides(request: Request) -> Response:
    answer = fake_venue(request)
    return Response(status=answer.status, body=answer.body.replace(b'"BUY"', b'"buy"'))


async def test_a_side_not_declared_is_a_decode_error_naming_the_table() -> None:
    async with lotusx.connect(VENUE, credentials=Credentials(KEY, SECRET),
                              transport=FakeTransport(lower_case_sides)) as ex:
        with pytest.raises(lotusx.DecodeError, match="SIDES"):
            await ex.cancel_order("BTCUSDT", order_id=1)
'''


def test_a_status_the_venue_spells_its_own_way_is_declared_once_and_reported_in_lotusx_words(tmp_path: Path) -> None:
    """The connector maps the venue's status words through a table (Bybit's "Cancelled" -> lotusx's "CANCELED")."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "connector.py", 'STATUSES: dict[str, str] = {',
         'STATUSES: dict[str, str] = {"Cancelled": "CANCELED", ')
    edit(root / "tests" / "test_lotusx_acme.py", '"NEW" if request.method == "POST" else "CANCELED"',
         '"NEW" if request.method == "POST" else "Cancelled"')
    done = generated_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_side_the_connector_has_no_spelling_for_is_refused_naming_the_table(tmp_path: Path) -> None:
    """A side the venue spells otherwise ("buy") is a DecodeError saying to declare it, never an Order saying "buy"."""
    root = new_exchange("acme", tmp_path)
    (root / "tests" / "test_spelling.py").write_text(UNMAPPED_SIDE)
    done = generated_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_generated_test_fails_when_the_entry_point_names_no_venue(tmp_path: Path) -> None:
    """An entry point naming the connector class: lotusx.connect("acme") would fail, and so does the package's test."""
    root = new_exchange("acme", tmp_path)
    edit(root / "pyproject.toml", 'acme = "lotusx_acme:VENUE"', 'acme = "lotusx_acme:Acme"')
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]


def test_the_generated_test_fails_when_the_venue_is_registered_under_another_name(tmp_path: Path) -> None:
    """Registered as "acme" but declared "acme-spot": its limits and metrics would go by a name nobody asked for."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "__init__.py", 'name="acme",', 'name="acme-spot",')
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]


def test_the_package_requires_the_lotusx_it_was_written_for(tmp_path: Path) -> None:
    """The generated code calls this lotusx's API: its pyproject asks for at least this version, not any lotusx."""
    root = new_exchange("acme", tmp_path)
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["dependencies"] == [f"lotusx>={lotusx.__version__}"]


def test_the_generated_conformance_test_fails_naming_a_write_left_without_its_idempotency(tmp_path: Path) -> None:
    """The package's own tests run lotusx.testing.check_venue: a cancel left unclassified is named there."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "endpoints.py", "idempotency=Idempotency.UNSAFE)", "idempotency=None)")
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "endpoint 'cancel_order' (DELETE) declares no idempotency" in done.stdout


def test_the_generated_conformance_test_fails_once_a_lacking_method_is_written(tmp_path: Path) -> None:
    """The generated list of methods still to write is kept true: a get_ticker written is taken off it."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "connector.py", "    async def aclose(self) -> None:",
         "    async def get_ticker(self, symbol: str) -> None:\n        \"\"\"Written.\"\"\"\n\n"
         "    async def aclose(self) -> None:")
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "lacks names get_ticker, which connector Acme has" in done.stdout


def test_the_generated_conformance_test_fails_once_the_declaration_drops_its_endpoints(tmp_path: Path) -> None:
    """The generated VENUE declares its endpoint table and its test checks that table: without it, it says so."""
    root = new_exchange("acme", tmp_path)
    edit(root / "lotusx_acme" / "__init__.py", "endpoints=ep.ENDPOINTS,", "")
    done = generated_tests(root)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "acme declares no endpoints: declare Venue.endpoints or pass endpoints=" in done.stdout
