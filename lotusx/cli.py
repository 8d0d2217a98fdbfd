"""The ``lotusx`` command."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from lotusx.kernel.errors import ConfigError
from lotusx.sim import Sim, serve


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lotusx`` command."""
    parser = argparse.ArgumentParser(prog="lotusx")
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("sim", help="run the embedded exchange simulator until Ctrl-C / SIGTERM")
    sim.add_argument("--port", type=int, default=0, help="first port (venue i listens on port + i); 0 = any free")
    sim.add_argument("--venues", default="binance,bybit", help="comma-separated venues (default: binance,bybit)")
    sim.add_argument("--seed", type=int, default=0, help="seed of keys and market flow (default: 0)")
    sim.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    args = parser.parse_args(argv)
    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    try:
        return asyncio.run(run_sim(venues, args.seed, args.port, args.host))
    except (ConfigError, OSError) as exc:  # unknown venue, port in use: a usage problem, not a crash
        print(f"lotusx sim: {exc}", file=sys.stderr)
        return 2


async def run_sim(venues: tuple[str, ...], seed: int, port: int, host: str) -> int:
    """Serve ``venues`` until SIGINT or SIGTERM, printing one line per venue first."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(venues, seed=seed, port=port, host=host) as sim:
        for name in sim.venues:
            print(describe(sim, name), flush=True)
        await stop.wait()
    return 0


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
