"""The classifier `lotusx new-exchange` writes: a venue code under a 5xx is no refusal."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import orjson

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.layers.retry import may_have_executed
from lotusx.scaffold import new_exchange

ORDER = Request(method="POST", path="/api/v1/order")


def generated_errors(tmp_path: Path) -> ModuleType:
    """The generated package's errors module, loaded from its file."""
    path = new_exchange("acme", tmp_path) / "lotusx_acme" / "errors.py"
    spec = importlib.util.spec_from_file_location("lotusx_acme_errors_review22", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_5xx_with_a_refusal_code_is_a_server_error(tmp_path: Path) -> None:
    """A 503 whose body carries the template's InsufficientBalance code may have executed: a ServerError."""
    classify = generated_errors(tmp_path).classify
    error = classify(ORDER, Response(status=503, body=orjson.dumps({"code": 2002, "msg": "insufficient"})))
    assert type(error) is e.ServerError and may_have_executed(error)


def test_a_4xx_with_a_refusal_code_is_still_the_refusal(tmp_path: Path) -> None:
    """Under a 4xx the same code is the venue's refusal, as the template maps it."""
    classify = generated_errors(tmp_path).classify
    error = classify(ORDER, Response(status=400, body=orjson.dumps({"code": 2002, "msg": "insufficient"})))
    assert type(error) is e.InsufficientBalance
