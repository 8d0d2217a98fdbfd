"""Instructions per ``place_order``: lotusx's full stack and the floor, counted by callgrind.

Wall-clock and CPU timings move with whatever else the machine runs; the instruction count of
a call does not. This runs the canned server (``python -m bench.server canned``) in its own
process, warms up both clients against it, then runs N orders through ``bench.rest.Lotusx``
(``lotusx.connect("binance")``, full stack) and N through ``bench.rest.Floor``, each section
inside its own ``operator.call`` so callgrind can count just the sections::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --dump-after=_operator_call \\
        --callgrind-out-file=/tmp/cg.%p python -m bench.callgrind_order 2000

Callgrind writes one dump per section: ``/tmp/cg.<pid>.1`` is lotusx's N orders and
``/tmp/cg.<pid>.2`` the floor's; each ``summary:`` line over N is instructions per order
(``--only lotusx`` or ``--only floor`` runs one section; ``--only layerless`` counts lotusx without
Retry, RateLimit, ClockSync and Trace, the canned suite's layer-less client; ``--workers 16``
keeps 16 orders in flight, as the 16-way rows do, N rounded down to a multiple of 16). Without valgrind it just runs the
orders and prints the wall time. Only this process is counted: the server's CPU is not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import operator
import time

import structlog

from bench.measure import server
from bench.rest import ABLATIONS, Client, open_client

WARMUP = 200


async def orders(client: Client, first: int, count: int, workers: int = 1) -> None:
    """``count`` orders numbered from ``first`` (buys and sells alternate), ``workers`` in flight at once."""
    per_worker = count // workers

    async def worker(start: int) -> None:
        for i in range(start, start + per_worker):
            await client.order(i)

    await asyncio.gather(*(worker(first + w * per_worker) for w in range(workers)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_order")
    parser.add_argument("n", type=int, nargs="?", default=2000, help="orders per client in the counted section")
    parser.add_argument("--only", choices=("lotusx", "floor", "layerless"), help="count one client only")
    parser.add_argument("--workers", type=int, default=1,
                        help="orders in flight at once (16: the 16-way row); n is rounded down to a multiple")
    args = parser.parse_args()
    if not 1 <= args.workers <= args.n:
        parser.error("--workers must be between 1 and n")
    n = args.n // args.workers * args.workers
    # As bench/__main__.py runs it: log events filtered at WARNING.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        cache_logger_on_first_use=True)
    loop = asyncio.new_event_loop()
    with server("canned") as canned:
        if args.only == "layerless":
            clients = [loop.run_until_complete(open_client("lotusx", canned.info, ABLATIONS[-1]))]
        else:
            clients = [loop.run_until_complete(open_client(name, canned.info))
                       for name in ("lotusx", "floor") if args.only in (None, name)]
        try:
            for client in clients:
                loop.run_until_complete(orders(client, 0, WARMUP))
            for client in clients:
                start = time.perf_counter()
                # The counted section: callgrind collects only inside operator.call (see above).
                operator.call(loop.run_until_complete, orders(client, WARMUP, n, args.workers))
                print(f"{client.name}: {n} orders, {args.workers} in flight, in {time.perf_counter() - start:.2f} s",
                      flush=True)
        finally:
            for client in clients:
                loop.run_until_complete(client.close())
            loop.close()


if __name__ == "__main__":
    main()
