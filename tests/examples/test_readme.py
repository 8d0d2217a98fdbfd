"""README.md's code runs as written: each Python block, against the simulator on loopback where it needs a venue."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def block(marker: str) -> str:
    """The one README Python block holding ``marker``."""
    found = [code for code in BLOCKS if marker in code]
    assert len(found) == 1, f"{len(found)} README blocks hold {marker!r}"
    return found[0]


async def run(code: str, **names: Any) -> dict[str, Any]:
    """Run ``code`` as the body of a coroutine (README blocks use top-level ``await``); its locals."""
    source = "async def snippet():\n" + textwrap.indent(code, "    ") + "\n    return locals()\n"
    scope: dict[str, Any] = dict(names)
    exec(compile(source, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    return dict(await scope["snippet"]())


def swap(code: str, old: str, new: str) -> str:
    assert old in code, old
    return code.replace(old, new)


async def using_a_venue(sim: Sim) -> dict[str, Any]:
    """"Using a venue" run against ``sim`` with its URLs and keys, leaving the maintained book after one update."""
    code = block('lotusx.connect("binance", credentials=creds)')
    keys = sim.api_keys("binance")
    code = swap(code, 'api_key="...", secret="..."', f"api_key={keys.hmac_key!r}, secret={keys.hmac_secret!r}")
    code = swap(code, 'lotusx.connect("binance", credentials=creds)',
                f'lotusx.connect("binance", credentials=creds, rest_url={sim.rest_url("binance")!r}, '
                f'ws_url={sim.ws_url("binance")!r})')
    code = swap(code, "        ...\n", "        break\n")  # one maintained book is enough
    return await run(code)


async def test_using_a_venue_runs_against_the_simulator() -> None:
    """"Using a venue": book, an order placed and cancelled, the maintained book, with the sim's URLs and keys."""
    async with serve(venues=("binance",)) as sim:
        done = await using_a_venue(sim)
    assert done["order"].status == "NEW" and done["order"].price == Decimal("45000")
    assert done["requoted"].price == Decimal("44999") and done["requoted"].order_id != done["order"].order_id
    assert done["book"].symbol == "BTCUSDT" and done["book"].best_bid is not None


async def test_using_a_venue_still_runs_once_the_sims_market_has_moved() -> None:
    """The README's order rests, so its cancel works, after the sim's random walk took the ask below 50 000."""
    async with serve(venues=("binance",), config=SimConfig(driver_rate=0)) as sim:
        sim.engine("binance").place(MAKER, "BTCUSDT", "SELL", "LIMIT", quantity=Decimal("0.5"),
                                    price=Decimal("49999.5"))  # where `lotusx sim` is after a few seconds
        done = await using_a_venue(sim)
    assert done["order"].status == "NEW"


async def test_the_shape_runs_against_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    """"The shape": a hand-built stack with a middleware of one's own; its repr is the flat list, as commented."""
    code = block("RestClient(AiohttpRest(")
    async with serve(venues=("binance",)) as sim:
        keys = sim.api_keys("binance")
        done = await run(swap(code, '"https://api.binance.com"', repr(sim.rest_url("binance"))),
                         api_key=keys.hmac_key, secret=keys.hmac_secret)
    assert done["book"].lastUpdateId > 0 and done["book"].bids
    shown = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("stack("))
    assert shown.startswith("stack(around(desk_tag), Retry(policy=RetryPolicy(max_attempts=3, ")
    assert "), RateLimit(limiter=Limiter(pools=[REQUEST_WEIGHT 6000/60s" in shown
    assert shown.endswith("Trace(exchange='binance', metrics=None, usage_headers=(), logger=None, "
                                   "clock=SystemClock()), MapErrors(chain(venue_errors, http_errors)))")


async def test_testing_your_own_layers_runs() -> None:
    """"Testing your own layers": the Retry test and the middleware test pass as written."""
    done = await run(block("ScriptedService(["))
    assert len(done["inner"].requests) == 2


def test_the_cli_commands_the_readme_shows_exist() -> None:
    """Every `lotusx <command>` the README shows is a command of the CLI."""
    from lotusx.cli import _parser

    shown = set(re.findall(r"^lotusx ([a-z-]+)", README, flags=re.MULTILINE))
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert shown and shown <= set(commands)


def test_every_example_the_readme_lists_exists_and_every_example_is_listed() -> None:
    """The Examples section and examples/ agree."""
    listed = set(re.findall(r"`examples/([a-z_]+\.py)`", README))
    present = {path.name for path in (Path(__file__).resolve().parents[2] / "examples").glob("*.py")}
    assert listed == present


def test_the_public_names_the_readme_uses_exist() -> None:
    """Names the README imports from lotusx, lotusx.layers and lotusx.testing are there."""
    for module, names in re.findall(r"^from (lotusx[a-z.]*) import (.+)$", README, flags=re.MULTILINE):
        imported = __import__(module, fromlist=["_"])
        for name in (n.strip() for n in names.split(",")):
            assert hasattr(imported, name), f"{module}.{name}"
    assert lotusx.connect is not None
