"""Results out: the JSON files, the table printed and pasted into README, and the PNG chart."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.measure import Result
from bench.stream import LATENCY

RESULTS = Path(__file__).resolve().parent / "results"
SERVER_BOUND = 0.9  # a row whose server core was this busy measured the server
# The charted clients and their bar colours (the floor is the line at 1.0).
COLOURS = {"lotusx": "tab:blue", "lotusx run()": "lightskyblue", "ccxt": "tab:orange"}


def add_ratios(results: Sequence[Result]) -> None:
    """Each result's rate over its case's floor rate (the floor itself gets 1.0); none for the
    latency case, whose rate is the server's pace."""
    floors = {r.case: r.rate for r in results if r.client == "floor" and r.case != LATENCY}
    for result in results:
        if result.case in floors:
            result.ratio = result.rate / floors[result.case]


def ablated(result: Result) -> bool:
    """Whether ``result`` is lotusx with layers taken out (``bench.rest.Without``)."""
    return result.client.startswith("lotusx -")


def layer_run(result: Result) -> bool:
    """Whether ``result`` is a layer-cost run: layers taken out, or stopwatches put in (``Probed``)."""
    return ablated(result) or "own_us" in result.extra


def table(results: Sequence[Result]) -> str:
    """A Markdown table of every result but the layer-cost runs (see :func:`layer_costs`).

    "server busy" is the server core's CPU over the row's wall time: near 100 %, the server
    paced the client and the row's rate is the server's.
    """
    lines = ["| case | client | n | median µs | p99 µs | calls or msgs/s | CPU µs/call | server busy | vs floor |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if layer_run(r):
            continue
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        busy = f"{r.extra['server_busy']:.0%}" if r.extra.get("server_busy") else "-"
        lines.append(f"| {r.case} | {r.client} | {r.count} | {r.median_us:.1f} | {r.p99_us:.1f} | {r.rate:,.0f} "
                     f"| {r.cpu_us:.1f} | {busy} | {ratio} |")
    return "\n".join(lines)


def latencies(results: Sequence[Result]) -> str:
    """The latency case's clients: median and p99 from the server's write to the consumer."""
    return "\n".join(f"{r.client}: median {r.median_us:.0f} µs, p99 {r.p99_us:.0f} µs"
                     for r in results if r.case == LATENCY)


def layerless(results: Sequence[Result]) -> str:
    """lotusx with layers taken out, against the canned server: rate over the floor's, CPU per call beside it."""
    by = {(r.case, r.client): r for r in results}
    lines = []
    for r in results:
        floor = by.get((r.case, "floor"))
        if ablated(r) and r.case.endswith("canned") and floor is not None and r.ratio is not None:
            lines.append(f"{r.case} {r.client}: {r.ratio:.2f}x the floor's rate "
                         f"(full stack {by[(r.case, 'lotusx')].ratio or 0:.2f}x); CPU {r.cpu_us:.0f} µs/call, "
                         f"floor {floor.cpu_us:.0f}")
    return "\n".join(lines) or "(no such rows)"


def layer_costs(results: Sequence[Result]) -> str:
    """What each layer costs over the socket: full stack minus the stack without it, same run."""
    by = {(r.case, r.client): r for r in results}
    lines = ["| taken out | depth: client CPU µs/call saved | depth median / floor | "
             "order: client CPU µs/call saved | order median / floor |", "|---|---:|---:|---:|---:|"]
    cells: dict[str, list[str]] = {}
    for op in ("depth", "order"):
        case = f"{op} x1"
        full, floor = by[(case, "lotusx")], by[(case, "floor")]
        cells.setdefault("nothing (full stack)", []).extend(["-", f"{full.median_us / floor.median_us:.3f}"])
        for r in results:
            if r.case == case and ablated(r):
                cells.setdefault(r.client.removeprefix("lotusx "), []).extend(
                    [f"{full.cpu_us - r.cpu_us:.1f}", f"{r.median_us / floor.median_us:.3f}"])
    lines += [f"| {name} | {' | '.join(values)} |" for name, values in cells.items()]
    return "\n".join(lines)


def own_times(results: Sequence[Result]) -> str:
    """Each layer's own time per call, depth and order, from the ``bench.rest.Probed`` runs."""
    probed = {r.case.split()[0]: r.extra["own_us"] for r in results if "own_us" in r.extra}
    if not probed:
        return "(no probed run)"
    depth, order = probed["depth"], probed["order"]
    lines = ["| part | depth µs | order µs |", "|---|---:|---:|"]
    lines += [f"| {name} | {depth[name]:.1f} | {order[name]:.1f} |" for name in depth]
    layers = [name for name in depth if name not in ("above the stack", "transport + wire")]
    lines.append(f"| all layers | {sum(depth[n] for n in layers):.1f} | {sum(order[n] for n in layers):.1f} |")
    return "\n".join(lines)


def save(run: dict[str, Any], results: Sequence[Result]) -> Path:
    """Write ``results/<stamp>.json`` and ``results/latest.json``; returns the dated file."""
    RESULTS.mkdir(exist_ok=True)
    body = orjson.dumps({**run, "results": [r.row() for r in results]}, option=orjson.OPT_INDENT_2)
    dated = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if run.get('quick') else ''}.json"
    dated.write_bytes(body)
    (RESULTS / "latest.json").write_bytes(body)
    return dated


def chart(results: Sequence[Result], path: Path | None = None) -> Path:
    """Bar chart of every non-floor client's throughput relative to the floor (1.0 = floor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    path = path or RESULTS / "latest.png"
    # RateLimit rows compare the layer with a no-op service, not with a client: no bar for them.
    rows = [r for r in results if r.client in COLOURS and r.ratio is not None and not r.case.startswith("ratelimit")]
    labels = [f"{r.case}\n{r.client}" for r in rows]
    colours = [COLOURS[r.client] for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.9), 4.5))
    bars = ax.bar(labels, [r.ratio or 0 for r in rows], color=colours)
    for bar, r in zip(bars, rows, strict=True):
        if r.extra.get("server_busy", 0) >= SERVER_BOUND:
            bar.set_hatch("//")
    floor_line = ax.axhline(1.0, color="black", linewidth=1, label="floor (hand-written, same run)")
    bound = Patch(facecolor="white", edgecolor="black", hatch="//",
                  label=f"server core ≥ {SERVER_BOUND:.0%} busy: the server's rate")
    ax.set_ylabel("throughput / floor throughput")
    ax.set_title("LotusX (blue; pushed by run(): light blue) and ccxt (orange) vs the floor, higher is better")
    ax.legend(handles=[floor_line, bound], loc="upper right")
    plt.xticks(rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
