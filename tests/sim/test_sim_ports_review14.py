"""A port the sim cannot listen on is a usage error (ConfigError; `lotusx sim` exits 2), not an OverflowError."""

from __future__ import annotations

import pytest

from lotusx.cli import main
from lotusx.kernel.errors import ConfigError
from lotusx.sim import serve
from tests.test_cli import keep_logging  # noqa: F401 - the autouse fixture applies here too


@pytest.mark.parametrize("port", [-5, 70000, 65535])  # 65535: the second venue would need 65536
async def test_serve_refuses_ports_outside_the_tcp_range(port: int) -> None:
    """serve(port=...) raises ConfigError naming the port when any venue's port (port + i) is not 0-65535."""
    with pytest.raises(ConfigError, match=str(port)):
        async with serve(("binance", "bybit"), port=port):
            pass


def test_lotusx_sim_with_a_port_out_of_range_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`lotusx sim --port 99999` prints what is wrong and exits 2, without a traceback."""
    assert main(["sim", "--port", "99999"]) == 2
    assert "lotusx sim: " in capsys.readouterr().err
