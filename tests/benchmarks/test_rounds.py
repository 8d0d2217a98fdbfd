"""Benchmark figures are pooled over rounds, and each ratio is also taken round by round."""

from __future__ import annotations

import pytest

from bench.__main__ import targets, verdict
from bench.measure import Result, Rounds, round_ratios
from bench.report import add_ratios, latencies, layerless
from bench.stream import LATENCY, PUSHED


def rounds(client: str, *per_round: list[float]) -> Rounds:
    """A client's rounds, each from its per-call seconds (wall = their sum, CPU = half of it)."""
    gathered = Rounds("depth x1", client)
    for samples in per_round:
        gathered.add(samples, sum(samples), sum(samples) / 2)
    return gathered


def test_the_pooled_result_is_every_round_together() -> None:
    """Median, rate and CPU per call are over all the rounds' calls, not an average of rounds."""
    result = rounds("floor", [0.001, 0.001, 0.001], [0.003]).result()
    assert result.count == 4
    assert result.median_us == pytest.approx(1000.0)
    assert result.rate == pytest.approx(4 / 0.006)
    assert result.cpu_us == pytest.approx(0.003 / 4 * 1e6)


def test_each_round_keeps_its_own_median_p99_and_rate() -> None:
    """A round's figures are its calls alone."""
    result = rounds("floor", [0.001, 0.001, 0.001], [0.003]).result()
    assert result.extra["rounds"] == [
        {"median_us": pytest.approx(1000.0), "p99_us": pytest.approx(1000.0), "rate": pytest.approx(1000.0)},
        {"median_us": pytest.approx(3000.0), "p99_us": pytest.approx(3000.0), "rate": pytest.approx(333.333, rel=1e-5)},
    ]


def test_the_server_is_busy_for_its_cpu_over_the_rounds_wall_time() -> None:
    """Server CPU seconds over the client's wall seconds, pooled: 1.0 means the server set the pace."""
    gathered = Rounds("depth x16", "floor")
    gathered.add([0.001] * 10, 0.01, 0.005, 0.009)
    gathered.add([0.001] * 10, 0.03, 0.005, 0.006)
    assert gathered.result().extra["server_busy"] == pytest.approx(0.015 / 0.04)


def test_round_ratios_pair_the_rounds_that_ran_side_by_side() -> None:
    """Ours over the floor for round 1, then round 2: the drift between rounds cancels."""
    floor = rounds("floor", [0.001], [0.002]).result()
    ours = rounds("lotusx", [0.0011], [0.0022]).result()
    assert round_ratios(ours, floor, "median_us") == [pytest.approx(1.1), pytest.approx(1.1)]


def test_round_ratios_are_unknown_when_the_rounds_do_not_pair() -> None:
    """Different round counts (or none recorded) give no per-round ratio rather than a wrong one."""
    floor = rounds("floor", [0.001], [0.002]).result()
    ours = rounds("lotusx", [0.001]).result()
    assert round_ratios(ours, floor, "median_us") == []


def test_a_verdict_shows_the_spread_of_its_rounds_and_how_many_met() -> None:
    """The pooled value decides; the rounds show how far the machine moved it."""
    check = {"target": "REST depth median / floor", "value": 1.12, "rounds": [1.05, 1.15, 1.09],
             "rounds_met": 2, "op": "<=", "bound": 1.1, "met": False}
    assert verdict(check) == ("MISS REST depth median / floor: 1.120 (rounds 1.050-1.150, met in 2 of 3) "
                              "(target <= 1.1)")


def all_cases(ours_depth: list[list[float]]) -> list[Result]:
    """Every case the targets read: floor at 1 ms a call, ours on depth as given, the rest like the floor."""
    ms = [[0.001], [0.001], [0.001]]
    results: list[Result] = []
    for case in ("depth x1", "order x1", "depth x16", "order x16", "depth x16 canned", "order x16 canned",
                 "ws plain", "ws gzip", "ws deflate"):
        for client in ("floor", "lotusx", "ccxt", *((PUSHED,) if case.startswith("ws") else ())):
            results.append(rounds(client, *(ours_depth if (case, client) == ("depth x1", "lotusx") else ms)).result())
            results[-1].case = case
    results += [Result("book", "lotusx", 1, 1.0, 1.0, 120_000.0, 1.0),
                Result("book", "floor", 1, 1.0, 1.0, 150_000.0, 1.0),
                Result("ws plain rss", "lotusx", 1, 1.0, 1.0, 1.0, 1.0, extra={"rss_first": 10, "rss_last": 10}),
                Result("ratelimit memory", "lotusx", 1, 1.0, 1.0, 1.0, 1.0, extra={"layer_us": 5.0})]
    add_ratios(results)
    return results


def test_a_target_counts_the_rounds_that_met_it() -> None:
    """Median over the floor: rounds at 1.05 and 1.09 meet 1.10, the round at 1.2 does not."""
    checks = {c["target"]: c for c in targets(all_cases([[0.00105], [0.0012], [0.00109]]))}
    median = checks["REST depth median / floor"]
    assert median["rounds"] == [pytest.approx(1.05), pytest.approx(1.2), pytest.approx(1.09)]
    assert median["rounds_met"] == 2
    assert median["met"] is True  # pooled: the median call is the 1.09 round's


def test_each_ws_mode_is_judged_for_async_for_and_for_run() -> None:
    """Both ways of reading a stream get a verdict of their own against the same floor."""
    names = [c["target"] for c in targets(all_cases([[0.001]] * 3)) if c["target"].startswith("WS plain")]
    assert names == ["WS plain msgs/s / floor, async for", "WS plain msgs/s / floor, run()"]


def test_the_latency_case_gets_no_throughput_ratio_and_prints_its_latencies() -> None:
    """Paced frames come at the server's pace: no "vs floor" rate ratio; the report gives median and p99."""
    rows = [Result(LATENCY, client, 1, median, p99, 8_000.0, 20.0) for client, median, p99 in
            (("floor", 120.0, 250.0), ("lotusx", 230.0, 330.0))]
    add_ratios(rows)
    assert [row.ratio for row in rows] == [None, None]
    assert latencies(rows).splitlines() == ["floor: median 120 µs, p99 250 µs", "lotusx: median 230 µs, p99 330 µs"]


def test_the_16_way_target_is_judged_against_the_canned_server() -> None:
    """Ours at half the floor's rate on the canned server misses, whatever the sim's server-bound rows say."""
    results = all_cases([[0.001]] * 3)
    for result in results:
        if result.case == "depth x16 canned" and result.client == "lotusx":
            result.rate /= 2
    add_ratios(results)
    check = next(c for c in targets(results) if c["target"].startswith("REST depth x16"))
    assert check["target"] == "REST depth x16 throughput / floor (canned server)"
    assert check["value"] == pytest.approx(0.5)
    assert check["met"] is False


def test_the_layerless_canned_rows_are_reported_beside_the_full_stack() -> None:
    """Layer-less lotusx against the canned server: its rate over the floor's, the full stack's beside it."""
    client = "lotusx -Retry -RateLimit -ClockSync -Trace"
    rows = [Result("order x16 canned", name, 1, 1.0, 1.0, rate, cpu) for name, rate, cpu in
            (("floor", 1000.0, 200.0), ("lotusx", 650.0, 300.0), (client, 840.0, 240.0))]
    rows.append(Result("order x1", client, 1, 1.0, 1.0, 1.0, 1.0))  # a sim row: not reported here
    add_ratios(rows)
    assert layerless(rows) == (f"order x16 canned {client}: 0.84x the floor's rate (full stack 0.65x); "
                               "CPU 240 µs/call, floor 200")


def test_the_ccxt_verdict_shows_the_floors_own_lead_on_ccxt() -> None:
    """ccxt at 1.5 ms a call against a 1 ms floor: no client is 1.6x faster there, and the line says so."""
    results = all_cases([[0.001]] * 3)
    for result in results:
        if result.case == "depth x1" and result.client == "ccxt":
            result.median_us *= 1.5
    check = next(c for c in targets(results) if c["target"] == "REST depth ccxt median / ours")
    assert verdict(check).endswith("(target >= 1.6); ccxt / floor: 1.50")
