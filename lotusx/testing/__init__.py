"""Test doubles for LotusX layers and connectors, shipped with the library.

Use them to test your own layers and middleware without a network or real time::

    from lotusx import Request, Response
    from lotusx.layers import Retry, RetryPolicy
    from lotusx.testing import FakeClock, ScriptedService

    inner = ScriptedService([Response(status=503), Response(status=200, body=b"{}")])
    clock = FakeClock()
    service = Retry(RetryPolicy(max_attempts=3), clock=clock)(inner)
    assert (await service(Request(method="GET", path="/x"))).status == 200
    assert len(inner.requests) == 2 and len(clock.slept) == 1  # the back-off, in virtual time

- :class:`FakeTransport` answers every request with ``handler(request)`` (sync or async),
  like httpx's ``MockTransport``; route on ``request.path`` in a plain function. A path
  without its leading ``/`` is a ``ConfigError``, as ``AiohttpRest`` makes it.
- :class:`ScriptedService` answers with a fixed script of responses and exceptions, in
  order, and records every request it saw (tower-test's mock handle).
- :class:`FakeClock` is an injectable clock: ``time()``, ``monotonic()``, ``sleep()``;
  ``advance(seconds)`` moves virtual time and wakes the sleepers that are due.
- :class:`RecordingClock` is real time that records (and can shorten) every sleep, for
  integration tests over real sockets.
- :class:`FakeWs` is a scripted :class:`~lotusx.WsSession`: inbound frames you queue,
  sends it records. ``ReconnectWs`` takes a factory of sessions: ``ReconnectWs(lambda: fake, ...)``.
- :class:`RecordWs` wraps any ``WsSession`` and appends its inbound frames to a JSON-lines file;
  :class:`ReplayWs` is a ``FakeWs`` playing such a file back (``paced=True``: at the recorded offsets).
- :class:`Record` is a layer appending each REST exchange to a JSON-lines file, without keys,
  signatures, timestamps or request headers; :func:`replay_transport` answers from that file
  (``ConfigError`` for a request it holds no answer for). Record once, replay in every test::

      async with lotusx.connect("binance", inner=[Record("rest.jsonl")],
                                ws_session=lambda url: RecordWs(AiohttpWs(url), "ws.jsonl")) as ex: ...
      replayed = ReplayWs("ws.jsonl")  # one for the run: a reconnect reads on, not from the start
      async with lotusx.connect("binance", transport=replay_transport("rest.jsonl"),
                                ws_session=lambda url: replayed) as ex: ...

  The file format is in :mod:`lotusx.testing.replay`.
- :func:`check_venue` checks a venue declaration against the rules every venue keeps (pools and
  costs, each write's idempotency, usage headers, the signer's secrecy, the common API):
  ``check_venue(VENUE)`` (the endpoints ``VENUE.endpoints`` declares; ``endpoints=`` a module or a
  table instead) raises one ``AssertionError`` listing every problem; :func:`venue_problems` returns them.
  The rules are in :mod:`lotusx.testing.conformance`.
- A whole connector runs on a fake venue: ``lotusx.connect("binance", transport=FakeTransport(handler))``
  (a signed call first samples the venue's clock: answer ``/api/v3/time`` with ``{"serverTime": <ms>}``).
"""

from lotusx.testing.clock import FakeClock, RecordingClock
from lotusx.testing.conformance import check_venue, endpoints_in, venue_problems
from lotusx.testing.replay import Record, RecordWs, ReplayWs, replay_transport
from lotusx.testing.rest import FakeTransport, ScriptedService
from lotusx.testing.ws import FakeWs

__all__ = ["FakeClock", "FakeTransport", "FakeWs", "Record", "RecordWs", "RecordingClock", "ReplayWs",
           "ScriptedService", "check_venue", "endpoints_in", "replay_transport", "venue_problems"]
