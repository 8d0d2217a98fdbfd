"""The ``lotusx`` command: ``sim``, ``demo``, ``new-exchange``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from lotusx import __version__
from lotusx.kernel.errors import ConfigError
from lotusx.sim import Sim, serve
from lotusx.sim.server import CATEGORIES


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lotusx`` command; returns the exit status (2: a usage problem, 130: Ctrl-C)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _logs(args.verbose)
    try:
        return int(args.run(args))
    except (ConfigError, OSError) as exc:  # unknown venue, port in use, directory there: a usage problem, not a crash
        print(f"lotusx {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C during demo: everything it opened was closed on the way out
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lotusx", description="LotusX: composable crypto-exchange connectors.")
    parser.add_argument("--version", action="version", version=f"lotusx {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at info level (default: warnings only)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = commands.add_parser("sim", help="run the embedded exchange simulator until Ctrl-C / SIGTERM",
                              description="Serve the simulated venues on loopback; print their URLs and keys.")
    sim.add_argument("--port", type=int, default=0, help="first port (venue i listens on port + i); 0 = any free")
    sim.add_argument("--venues", default="binance,bybit",
                     help="comma-separated venues (default: binance,bybit; bybit serves spot and linear)")
    sim.add_argument("--seed", type=int, default=0, help="seed of keys and market flow (default: 0)")
    sim.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    sim.set_defaults(run=_sim)

    demo = commands.add_parser("demo", help="a venue's connector against the simulator: book, order, stream",
                               description="Start the simulator, read a book, place and cancel an order, stream "
                                           "the maintained book, print the metrics. Offline; ends by itself.")
    demo.add_argument("--venue", default="binance", choices=("binance", "bybit", "bybit-linear"),
                      help="the connector to run (default: binance)")
    demo.add_argument("--seconds", type=duration, default=5.0, help="how long to stream the book (default: 5)")
    demo.set_defaults(run=_demo)

    new = commands.add_parser("new-exchange", help="write a package for a new venue (a connector to fill in)",
                              description="Write lotusx-NAME/: a venue declaration, endpoints, error map, schemas, "
                                          "a connector and an offline test, registered in the lotusx.exchanges "
                                          "entry points so lotusx.connect(NAME) finds it once installed.")
    new.add_argument("name", help="the venue's name, lower case (e.g. acme)")
    new.add_argument("--dir", type=Path, default=Path(), help="where to write lotusx-NAME/ (default: here)")
    new.set_defaults(run=_new_exchange)
    return parser


def duration(text: str) -> float:
    """An argparse ``type``: a finite, non-negative duration, so a demo or an example ends by itself.

    ``nan`` never compares as elapsed and ``inf`` never elapses; either, or a negative, is a usage error.
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds >= 0")
    return value


def _logs(verbose: bool) -> None:
    """Logs to stderr, so stdout carries only what the command prints (the sim's URLs and keys)."""
    level = logging.INFO if verbose else logging.WARNING
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr),
                        wrapper_class=structlog.make_filtering_bound_logger(level))


def _sim(args: argparse.Namespace) -> int:
    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    if not venues:  # else a sim serving nothing would wait for Ctrl-C, looking like one that works
        raise ConfigError(f"--venues names no venue; known: {', '.join(sorted(CATEGORIES))}")
    return asyncio.run(run_sim(venues, args.seed, args.port, args.host))


def _demo(args: argparse.Namespace) -> int:
    from lotusx.demo import tour

    asyncio.run(tour(args.venue, args.seconds))
    return 0


def _new_exchange(args: argparse.Namespace) -> int:
    from lotusx.scaffold import Names, new_exchange

    root = new_exchange(args.name, args.dir)
    names = Names(args.name)
    print(f"wrote {root}/: {names.package}/ (declaration, endpoints, errors, schemas, connector) and tests/")
    print("next:")
    print(f"  pip install -e '{root}[dev]'   # registers {args.name!r} in the lotusx.exchanges entry points")
    print(f"  pytest {root}                  # the connector against a fake venue, offline")
    print(f"  then fill in the TODOs from the venue's API docs; lotusx.connect({args.name!r}, ...) finds it")
    return 0


async def run_sim(venues: tuple[str, ...], seed: int, port: int, host: str) -> int:
    """Serve ``venues`` until SIGINT or SIGTERM, printing one line per venue first."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(venues, seed=seed, port=port, host=host) as sim:
        for name in sim.venues:
            print(describe(sim, name), flush=True)
        print(connect_hint(sim), flush=True)
        await stop.wait()
    return 0


def connect_hint(sim: Sim) -> str:
    """The line after the venues': how to pass the keys printed, the Ed25519 seed (base64 text) included."""
    hint = ("connect with lotusx.connect(venue, rest_url=..., ws_url=..., credentials=lotusx.Credentials("
            "api_key=hmac_key, secret=hmac_secret))")
    if any(sim.api_keys(name).ed25519_key for name in sim.venues):
        # Printed as base64 text, the seed would pass as an HMAC secret and every signature be refused.
        hint += ("; Ed25519: lotusx.Credentials(api_key=ed25519_key, "
                 "secret=base64.b64decode(ed25519_private_key)), the 32-byte seed as bytes")
    return hint + "; Ctrl-C stops"


def describe(sim: Sim, name: str) -> str:
    """One line: URLs and the sim's own (fake) keys, which are fine to print."""
    keys = sim.api_keys(name)
    line = (f"{name} rest={sim.rest_url(name)} ws={sim.ws_url(name)} "
            f"hmac_key={keys.hmac_key} hmac_secret={keys.hmac_secret}")
    if keys.ed25519_key:
        line += f" ed25519_key={keys.ed25519_key} ed25519_private_key={keys.ed25519_private_key}"
    return line


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
