"""Retry: back-off policy, idempotency rules, reconcile by client order id."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.layers.retry import Outcome, Reconcile, Retry, RetryPolicy, may_have_executed
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, ScriptedService

DEPTH = Endpoint("depth", "GET", "/api/v3/depth", idempotency=Idempotency.SAFE)
WITHDRAW = Endpoint("withdraw", "POST", "/sapi/v1/capital/withdraw/apply", signed=True,
                    idempotency=Idempotency.UNSAFE)
ORDER = Endpoint("new_order", "POST", "/api/v3/order", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)

READ = Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),), endpoint=DEPTH)
WRITE = Request(method="POST", path="/sapi/v1/capital/withdraw/apply", endpoint=WITHDRAW)
PLACE = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), endpoint=ORDER,
                ext={"client_order_id": "cid-1"})
OK = Response(status=200, body=b"{}")
FOUND = Response(status=200, body=b'{"clientOrderId":"cid-1"}')


def top(_lo: float, hi: float) -> float:
    """Deterministic 'jitter': always the ceiling."""
    return hi


def policy(**overrides: object) -> RetryPolicy:
    config: dict[str, object] = {"max_attempts": 4, "base": 0.1, "cap": 1.0, "deadline": 10.0, "jitter": top}
    config.update(overrides)
    return RetryPolicy(**config)  # type: ignore[arg-type]


class Reconciler:
    """A reconcile hook answering from a script; records the requests it was asked about."""

    def __init__(self, *answers: Response | BaseException | None) -> None:
        self.answers = list(answers)
        self.asked: list[Request] = []

    async def __call__(self, request: Request) -> Response | None:
        self.asked.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def retry(inner: Service, clock: FakeClock, reconcile: Reconcile | None = None, **overrides: object) -> Service:
    return Retry(policy(**overrides), reconcile=reconcile, clock=clock, exchange="binance")(inner)


# ===== RetryPolicy =====

def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    """The ceiling of the wait is base * 2**(n-1), capped."""
    p = policy(max_attempts=10)
    assert [p.decide(READ, e.ServerError(), n, 0.0) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    """Full jitter: the random source is asked for uniform(0, ceiling)."""
    draws: list[tuple[float, float]] = []

    def record(lo: float, hi: float) -> float:
        draws.append((lo, hi))
        return hi / 2

    assert policy(jitter=record).decide(READ, e.Timeout(), 3, 0.0) == 0.2
    assert draws == [(0.0, 0.4)]


def test_retry_after_is_a_floor_on_the_wait() -> None:
    """A RateLimited retry_after longer than the back-off is waited in full."""
    assert policy().decide(READ, e.RateLimited(retry_after=3.0), 1, 0.0) == 3.0


def test_retry_after_header_of_a_raw_429_is_honoured() -> None:
    """Without MapErrors, a raw 429's Retry-After header still sets the floor."""
    throttled = Response(status=429, headers={"Retry-After": "2"})
    assert policy().decide(READ, throttled, 1, 0.0) == 2.0


def test_gives_up_when_the_wait_overruns_the_deadline() -> None:
    """A retry_after longer than the remaining deadline stops at once."""
    assert policy(deadline=10.0).decide(READ, e.IpBanned(retry_after=3.0), 1, 8.0) is None


def test_stops_at_max_attempts() -> None:
    """The attempt numbered max_attempts is the last."""
    assert policy(max_attempts=2).decide(READ, e.ServerError(), 1, 0.0) is not None
    assert policy(max_attempts=2).decide(READ, e.ServerError(), 2, 0.0) is None


@pytest.mark.parametrize("outcome", [
    e.ConnectError(), e.Timeout(), e.Disconnected(sent=True), e.ServerError(), e.RateLimited(), e.IpBanned(),
    Response(status=500), Response(status=503), Response(status=429), Response(status=418),
])
def test_transient_outcomes_are_retryable(outcome: Outcome) -> None:
    """Connection errors, timeouts, 5xx and throttles are worth another try."""
    assert policy().decide(READ, outcome, 1, 0.0) is not None


@pytest.mark.parametrize("outcome", [
    e.InvalidRequest(), e.NotFound(), e.AuthenticationError(), e.InvalidSignature(), e.InsufficientBalance(),
    e.OrderRejected(), e.DuplicateClientOrderId(), e.DeadlineExceeded(), e.TimestampOutOfWindow(),
    e.ProtocolError(), Response(status=200), Response(status=400), Response(status=404),
])
def test_definite_outcomes_are_not_retried(outcome: Outcome) -> None:
    """Successes, caller errors, rejections and a spent deadline stop the loop."""
    assert policy().decide(READ, outcome, 1, 0.0) is None


class VenueBusy(e.VenueError):
    """A venue-declared 'busy, try again' error."""


def test_retry_on_adds_venue_declared_types() -> None:
    """A venue error type is retried only when listed in retry_on."""
    assert policy().decide(READ, VenueBusy(), 1, 0.0) is None
    assert policy(retry_on=(VenueBusy,)).decide(READ, VenueBusy(), 1, 0.0) == 0.1


def test_retry_on_refuses_never_retried_types() -> None:
    """Listing a never-retried type (here a subclass of InvalidRequest) is a config error."""
    class Unlucky(e.InvalidRequest):
        pass

    with pytest.raises(e.ConfigError):
        RetryPolicy(retry_on=(Unlucky,))


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"base": -1.0}, {"cap": -1.0}, {"deadline": 0.0},
                                 {"base": math.inf}, {"cap": math.inf}, {"base": math.nan}, {"cap": math.nan}])
def test_invalid_policy_is_a_config_error(bad: dict[str, float]) -> None:
    """Nonsense numbers fail at construction."""
    with pytest.raises(e.ConfigError):
        policy(**bad)


@pytest.mark.parametrize("bad", [
    {"base": math.nan}, {"cap": math.nan}, {"deadline": math.nan}, {"deadline": math.inf}])
def test_a_nan_or_infinite_deadline_policy_is_a_config_error(bad: dict[str, float]) -> None:
    """NaN slips past every comparison (a NaN wait is no wait at all) and an infinite deadline sleeps out a ban."""
    with pytest.raises(e.ConfigError):
        policy(**bad)


@pytest.mark.parametrize(("outcome", "executed"), [
    (e.ConnectError(), False), (e.Disconnected(sent=False), False), (e.RateLimited(), False),
    (e.InvalidRequest(), False), (Response(status=429), False), (Response(status=200), False), (e.ConfigError(), False),
    (e.Timeout(), True), (e.Disconnected(sent=True), True), (e.ServerError(), True), (e.ProtocolError(), True),
    (Response(status=502), True),
])
def test_may_have_executed(outcome: Outcome, executed: bool) -> None:
    """Only a refusal or a request that never left proves nothing happened."""
    assert may_have_executed(outcome) is executed


# ===== Retry: the loop =====

async def test_safe_call_is_retried_until_it_succeeds() -> None:
    """Two server errors, then success: three attempts, backed off 0.1 then 0.2."""
    clock = FakeClock()
    inner = ScriptedService([e.ServerError(), e.Timeout(), OK])
    assert await retry(inner, clock)(READ) is OK
    assert len(inner.requests) == 3
    assert clock.slept == [0.1, 0.2]


async def test_exhausted_attempts_raise_the_last_error_as_is() -> None:
    """After max_attempts the last error itself propagates, type intact."""
    last = e.ConnectError("GET /api/v3/depth: refused")
    inner = ScriptedService([e.ServerError(), e.Timeout(), last])
    with pytest.raises(e.ConnectError) as raised:
        await retry(inner, FakeClock(), max_attempts=3)(READ)
    assert raised.value is last


async def test_exhausted_raw_responses_return_the_last_response() -> None:
    """Without MapErrors, the last 5xx response is returned for the client to classify."""
    last = Response(status=503)
    inner = ScriptedService([Response(status=500), last])
    assert await retry(inner, FakeClock(), max_attempts=2)(READ) is last


async def test_raw_429_response_is_retried() -> None:
    """A raw 429 response is a retry signal."""
    inner = ScriptedService([Response(status=429), OK])
    assert await retry(inner, FakeClock())(READ) is OK


async def test_total_deadline_counts_sleeps() -> None:
    """Back-off sleeps use up the deadline: 0.1 fits in 0.25 s, 0.1 + 0.2 does not."""
    clock = FakeClock()
    inner = ScriptedService([e.ServerError(), e.ServerError(), OK])
    with pytest.raises(e.ServerError):
        await retry(inner, clock, deadline=0.25)(READ)
    assert len(inner.requests) == 2


async def test_non_lotusx_errors_are_not_retried() -> None:
    """A bug (plain exception) propagates at once."""
    inner = ScriptedService([ValueError("bug"), OK])
    with pytest.raises(ValueError, match="bug"):
        await retry(inner, FakeClock())(READ)
    assert len(inner.requests) == 1


class OnlyOnce:
    """A user-written policy: one immediate retry of anything."""

    def __init__(self) -> None:
        self.seen: list[tuple[Outcome, int]] = []

    def decide(self, request: Request, outcome: Outcome, attempt: int, elapsed: float) -> float | None:
        self.seen.append((outcome, attempt))
        return 0.0 if attempt == 1 else None


async def test_any_object_with_decide_is_a_policy() -> None:
    """The layer loops as a custom policy says, passing it each outcome and attempt."""
    custom, refused = OnlyOnce(), e.InvalidRequest()
    inner = ScriptedService([refused, OK])
    assert await Retry(custom, clock=FakeClock())(inner)(READ) is OK
    assert custom.seen == [(refused, 1), (OK, 2)]


async def test_a_retrypolicy_subclass_is_still_asked_about_successes() -> None:
    """Only the stock RetryPolicy lets a 2xx skip decide(); a subclass may retry what it likes."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class RetryEmpty(RetryPolicy):
        def retryable(self, outcome: Outcome) -> bool:
            return isinstance(outcome, Response) and outcome.body == b""

    inner = ScriptedService([Response(status=200), OK])
    assert await Retry(RetryEmpty(jitter=lambda a, b: 0.0), clock=FakeClock())(inner)(READ) is OK
    assert len(inner.requests) == 2


def fake_sign() -> Callable[[Service], Service]:
    """A signer layer stamping a fresh counter as timestamp and signature on every call."""
    counter = iter(range(1, 100))

    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            n = next(counter)
            return await inner(request.with_query(("timestamp", str(n)), ("signature", f"sig-{n}")))

        return service

    return layer


async def test_every_attempt_is_signed_afresh_from_the_unsigned_original() -> None:
    """Each attempt carries exactly one, new signature; the caller's request is untouched."""
    inner = ScriptedService([e.ServerError(), e.ServerError(), OK])
    service = Retry(policy(), clock=FakeClock())(fake_sign()(inner))
    await service(READ)
    assert [r.query for r in inner.requests] == [
        (("symbol", "BTCUSDT"), ("timestamp", str(n)), ("signature", f"sig-{n}")) for n in (1, 2, 3)]
    assert READ.query == (("symbol", "BTCUSDT"),)


async def test_attempts_share_one_request_id_and_count_up() -> None:
    """ext carries attempt 1, 2, 3 and one request id for the whole call."""
    inner = ScriptedService([e.Timeout(), e.Timeout(), OK])
    await retry(inner, FakeClock())(READ)
    assert [r.ext["attempt"] for r in inner.requests] == [1, 2, 3]
    assert len({r.ext["request_id"] for r in inner.requests}) == 1


async def test_an_outer_request_id_is_kept() -> None:
    """A request id set by an outer layer is reused, not replaced."""
    inner = ScriptedService([OK])
    await retry(inner, FakeClock())(READ.with_ext(request_id="outer-1"))
    assert inner.requests[0].ext["request_id"] == "outer-1"


# ===== Retry: UNSAFE =====

@pytest.mark.parametrize("not_sent", [
    e.ConnectError(), e.Disconnected(sent=False), e.RateLimited(retry_after=0.0), e.IpBanned(retry_after=0.0),
    Response(status=429),
])
async def test_unsafe_call_is_retried_when_it_provably_never_ran(not_sent: Outcome) -> None:
    """A withdrawal that never left, or was throttled, is sent again."""
    inner = ScriptedService([not_sent, OK])
    assert await retry(inner, FakeClock())(WRITE) is OK
    assert len(inner.requests) == 2


@pytest.mark.parametrize("ambiguous", [e.Timeout(), e.Disconnected(sent=True), e.ServerError()])
async def test_unsafe_call_is_not_retried_after_an_ambiguous_error(ambiguous: e.LotusXError) -> None:
    """A withdrawal that may have run is never sent twice."""
    inner = ScriptedService([ambiguous, OK])
    with pytest.raises(type(ambiguous)):
        await retry(inner, FakeClock())(WRITE)
    assert len(inner.requests) == 1


async def test_unsafe_call_returns_an_ambiguous_raw_5xx_without_retry() -> None:
    """A raw 5xx to a withdrawal is handed back, not re-sent."""
    failed = Response(status=502)
    inner = ScriptedService([failed, OK])
    assert await retry(inner, FakeClock())(WRITE) is failed
    assert len(inner.requests) == 1


# ===== Retry: SAFE_WITH_CLIENT_ID =====

@pytest.mark.parametrize("ambiguous", [
    e.Timeout(), e.ServerError(), e.Disconnected(sent=True), e.ProtocolError(), Response(status=504)])
async def test_order_found_by_reconcile_becomes_the_result(ambiguous: Outcome) -> None:
    """After an ambiguous outcome, an order the venue has is returned, never re-sent."""
    inner = ScriptedService([ambiguous])
    reconcile = Reconciler(FOUND)
    assert await retry(inner, FakeClock(), reconcile)(PLACE) is FOUND
    assert len(inner.requests) == 1
    assert reconcile.asked == [PLACE]


async def test_order_proven_absent_is_resent_with_the_same_client_id() -> None:
    """reconcile None: the same request, same client id, goes out again and is re-signed."""
    inner = ScriptedService([e.Timeout(), OK])
    service = Retry(policy(), reconcile=Reconciler(None), clock=FakeClock())(fake_sign()(inner))
    assert await service(PLACE) is OK
    assert [r.ext["client_order_id"] for r in inner.requests] == ["cid-1", "cid-1"]
    assert [r.query[-1] for r in inner.requests] == [("signature", "sig-1"), ("signature", "sig-2")]


async def test_failing_reconcile_raises_ambiguous_order_state() -> None:
    """When reconcile cannot tell, even asked again, the caller gets AmbiguousOrderState with the client id."""
    cause = e.Timeout("GET /api/v3/order: no response")
    inner = ScriptedService([e.ServerError()])
    reconcile = Reconciler(*[cause] * 4)
    with pytest.raises(e.AmbiguousOrderState) as raised:
        await retry(inner, FakeClock(), reconcile)(PLACE)
    assert raised.value.client_order_id == "cid-1"
    assert raised.value.__cause__ is cause
    assert (len(inner.requests), len(reconcile.asked)) == (1, 4)  # the lookup as often as the policy allows


async def test_a_lookup_that_failed_once_is_asked_again_before_the_order_is_ambiguous() -> None:
    """One 5xx on the reconcile query is a passing failure: the query is asked again and finds the order."""
    inner = ScriptedService([e.Timeout()])
    reconcile = Reconciler(e.ServerError(), FOUND)
    clock = FakeClock()
    assert await retry(inner, clock, reconcile)(PLACE) is FOUND
    assert (len(inner.requests), len(reconcile.asked), clock.slept) == (1, 2, [0.1])


async def test_a_lookup_refused_for_good_is_not_asked_again() -> None:
    """A reconcile query the venue refuses (InvalidRequest) is ambiguous at once: asking again tells nothing."""
    reconcile = Reconciler(e.InvalidRequest("bad"), FOUND)
    with pytest.raises(e.AmbiguousOrderState):
        await retry(ScriptedService([e.Timeout()]), FakeClock(), reconcile)(PLACE)
    assert len(reconcile.asked) == 1


async def test_ambiguous_order_without_reconcile_hook_raises_ambiguous_order_state() -> None:
    """No hook, no guessing: an ambiguous placement is reported, not re-sent."""
    inner = ScriptedService([e.Timeout(), OK])
    with pytest.raises(e.AmbiguousOrderState) as raised:
        await retry(inner, FakeClock())(PLACE)
    assert raised.value.client_order_id == "cid-1"
    assert len(inner.requests) == 1


async def test_duplicate_client_id_is_reconciled_not_resent() -> None:
    """A DuplicateClientOrderId on a later attempt returns the order reconcile finds."""
    inner = ScriptedService([e.RateLimited(retry_after=0.0), e.DuplicateClientOrderId()])
    reconcile = Reconciler(FOUND)
    assert await retry(inner, FakeClock(), reconcile)(PLACE) is FOUND
    assert len(inner.requests) == 2


async def test_duplicate_that_reconcile_cannot_find_is_ambiguous() -> None:
    """Venue says it exists, the query says not: nobody can tell, so AmbiguousOrderState."""
    inner = ScriptedService([e.DuplicateClientOrderId(), OK])
    with pytest.raises(e.AmbiguousOrderState):
        await retry(inner, FakeClock(), Reconciler(None))(PLACE)
    assert len(inner.requests) == 1


async def test_duplicate_without_reconcile_hook_propagates() -> None:
    """Without a hook the venue's DuplicateClientOrderId reaches the caller unchanged."""
    duplicate = e.DuplicateClientOrderId()
    with pytest.raises(e.DuplicateClientOrderId) as raised:
        await retry(ScriptedService([duplicate]), FakeClock())(PLACE)
    assert raised.value is duplicate


@pytest.mark.parametrize("not_sent", [e.ConnectError(), e.Disconnected(sent=False), e.RateLimited(retry_after=0.0)])
async def test_order_that_never_left_is_resent_without_reconcile(not_sent: e.LotusXError) -> None:
    """Provably unsent placements are simply retried; reconcile is not consulted."""
    reconcile = Reconciler()
    assert await retry(ScriptedService([not_sent, OK]), FakeClock(), reconcile)(PLACE) is OK
    assert reconcile.asked == []


async def test_order_refused_by_a_config_error_is_raised_without_reconcile() -> None:
    """A placement stopped before it left (a pool too small for its cost) is that ConfigError, not ambiguous."""
    refused = e.ConfigError("cost 2 exceeds pool ORDERS 1/10s: it could never be sent")
    reconcile = Reconciler()
    with pytest.raises(e.ConfigError) as raised:
        await retry(ScriptedService([refused]), FakeClock(), reconcile)(PLACE)
    assert raised.value is refused
    assert reconcile.asked == []


async def test_rejected_order_is_raised_without_reconcile() -> None:
    """A definite rejection (insufficient balance) is the answer."""
    reconcile = Reconciler()
    with pytest.raises(e.InsufficientBalance):
        await retry(ScriptedService([e.InsufficientBalance()]), FakeClock(), reconcile)(PLACE)
    assert reconcile.asked == []


async def test_exhausted_order_after_absent_reconcile_is_ambiguous() -> None:
    """Attempts run out on a timeout whose lookup found nothing: AmbiguousOrderState, the timeout its cause.

    A lookup can lag the venue's engine, and no re-send is left to meet its duplicate check.
    """
    reconcile = Reconciler(None, None)
    with pytest.raises(e.AmbiguousOrderState) as info:
        await retry(ScriptedService([e.Timeout(), e.Timeout()]), FakeClock(), reconcile, max_attempts=2)(PLACE)
    assert len(reconcile.asked) == 2
    assert info.value.client_order_id == PLACE.ext["client_order_id"] and isinstance(info.value.__cause__, e.Timeout)


async def test_order_without_client_id_is_refused_before_sending() -> None:
    """SAFE_WITH_CLIENT_ID without ext client_order_id is a declaration bug."""
    inner = ScriptedService([OK])
    with pytest.raises(e.ConfigError):
        await retry(inner, FakeClock())(PLACE.replace(ext={}))
    assert inner.requests == []


async def test_late_landing_order_is_caught_by_the_venue_duplicate_check() -> None:
    """Absent at reconcile but landing late: the re-send meets Duplicate and reconciles again."""
    venue = Venue(["late", "ok"], dedup=True)
    assert (await retry(venue.place, FakeClock(), venue.query)(PLACE)).status == 200
    assert venue.created == Counter({"cid-1": 1})


# ===== the property: never two orders =====

FAULTS = ["ok", "connect", "throttled", "refused_cut", "timeout_before", "timeout_after", "5xx_before",
          "5xx_after", "cut_after", "protocol_after", "raw_5xx_after"]


class Venue:
    """A fake venue that creates orders per a fault script.

    Without ``dedup`` it creates an order on every accepted placement, the worst case (Binance
    lets a client id be reused once its order is closed), so only Retry stands between a
    fault and a second order. ``late`` accepts the order now and lands it on the next call.
    """

    def __init__(self, faults: list[str], reconcile_fails: list[bool] | None = None, *, dedup: bool = False) -> None:
        self.faults = list(faults)
        self.reconcile_fails = list(reconcile_fails or [])
        self.dedup = dedup
        self.created: Counter[str] = Counter()
        self.pending: list[str] = []

    async def place(self, request: Request) -> Response:
        for cid in self.pending:
            self.created[cid] += 1
        self.pending.clear()
        cid = request.ext["client_order_id"]
        fault = self.faults.pop(0) if self.faults else "ok"
        not_created: dict[str, e.LotusXError] = {
            "connect": e.ConnectError(), "throttled": e.RateLimited(retry_after=0.0),
            "refused_cut": e.Disconnected(sent=False), "timeout_before": e.Timeout(), "5xx_before": e.ServerError()}
        if fault in not_created:
            raise not_created[fault]
        if self.dedup and self.created[cid]:
            raise e.DuplicateClientOrderId()
        if fault == "late":
            self.pending.append(cid)
            raise e.Timeout()
        self.created[cid] += 1
        created_then: dict[str, e.LotusXError] = {
            "timeout_after": e.Timeout(), "5xx_after": e.ServerError(), "cut_after": e.Disconnected(sent=True),
            "protocol_after": e.ProtocolError()}
        if fault in created_then:
            raise created_then[fault]
        return Response(status=502) if fault == "raw_5xx_after" else Response(status=200)

    async def query(self, request: Request) -> Response | None:
        if self.reconcile_fails and self.reconcile_fails.pop(0):
            raise e.Timeout()
        return FOUND if self.created[request.ext["client_order_id"]] else None


@settings(max_examples=300, deadline=None)
@given(faults=st.lists(st.sampled_from(FAULTS), max_size=8), reconcile_fails=st.lists(st.booleans(), max_size=8),
       hooked=st.booleans())
def test_no_fault_sequence_creates_two_orders(faults: list[str], reconcile_fails: list[bool], hooked: bool) -> None:
    """For any faults, at most one order exists; success means one does, a plain error means none."""
    venue = Venue(faults, reconcile_fails)
    service = retry(venue.place, FakeClock(), venue.query if hooked else None, max_attempts=5)

    async def run() -> Response | BaseException:
        try:
            return await service(PLACE)
        except e.LotusXError as exc:
            return exc

    result = asyncio.run(run())
    assert venue.created["cid-1"] <= 1
    if isinstance(result, Response) and result.ok:
        assert venue.created["cid-1"] == 1
    elif not isinstance(result, e.AmbiguousOrderState | e.DuplicateClientOrderId):
        assert venue.created["cid-1"] == 0


# ===== observability =====

async def test_each_retry_counts_in_metrics_by_reason() -> None:
    """retries_total{exchange, endpoint, reason} grows once per retry."""
    metrics = Metrics()
    inner = ScriptedService([e.ServerError(), Response(status=503), OK])
    await Retry(policy(), clock=FakeClock(), metrics=metrics, exchange="binance")(inner)(READ)
    sample = metrics.registry.get_sample_value
    assert sample("lotusx_retries_total", {"exchange": "binance", "endpoint": "depth", "reason": "ServerError"}) == 1
    assert sample("lotusx_retries_total", {"exchange": "binance", "endpoint": "depth", "reason": "http_503"}) == 1


async def test_each_retry_logs_one_event() -> None:
    """One rest.retry event per retry, with attempt, reason and delay."""
    inner = ScriptedService([e.Timeout(), e.ServerError(), OK])
    with capture_logs() as logs:
        await retry(inner, FakeClock())(READ)
    retries = [entry for entry in logs if entry["event"] == "rest.retry"]
    assert [(r["attempt"], r["reason"], r["delay"]) for r in retries] == [(1, "Timeout", 0.1), (2, "ServerError", 0.2)]
    assert {r["exchange"] for r in retries} == {"binance"}


def test_repr_shows_the_configuration() -> None:
    """repr(stack) shows the policy numbers."""
    text = repr(stack(Retry(RetryPolicy(max_attempts=5), exchange="binance")))
    assert "max_attempts=5" in text
    assert "exchange='binance'" in text
