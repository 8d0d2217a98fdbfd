"""`lotusx sim` as a real subprocess: it prints its URLs, answers over loopback and stops on SIGINT."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
import structlog

from lotusx.cli import main


async def read_line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    """The first stdout line starting with ``prefix`` (bounded: 50 lines, 20 s)."""
    assert proc.stdout is not None
    for _ in range(50):
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting with {prefix!r}")


async def test_sim_command_serves_and_stops_on_sigint(http: aiohttp.ClientSession) -> None:
    """The command prints URLs and keys, answers /api/v3/time, and exits 0 on SIGINT."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lotusx", "sim", "--port", "0", "--venues", "binance,bybit", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        line = await read_line(proc, "binance ")
        await read_line(proc, "bybit ")
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        assert {"rest", "ws", "hmac_key", "hmac_secret", "ed25519_key", "ed25519_private_key"} <= set(fields)
        async with http.get(fields["rest"] + "/api/v3/time") as resp:
            assert "serverTime" in await resp.json()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:  # pragma: no cover - only when an assertion failed above
            proc.kill()
            await proc.wait()


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """main() configures structlog for the command (stderr, warnings): put the tests' own back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad port is an argparse usage error; no command at all prints the help, with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", "--port", "x"])
    assert exit_info.value.code == 2
    assert main([]) == 2
    assert "new-exchange" in capsys.readouterr().out


def test_unknown_venue_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown venue is reported on stderr with exit status 2, not a traceback."""
    assert main(["sim", "--venues", "kraken"]) == 2
    assert "unknown sim venue 'kraken'" in capsys.readouterr().err


@pytest.mark.parametrize("venues", ["", ",", " , "])
def test_venues_that_name_no_venue_exit_2(venues: str) -> None:
    """--venues naming nothing: status 2 and why, not a sim that serves nothing and waits for Ctrl-C."""
    done = subprocess.run([sys.executable, "-m", "lotusx", "sim", "--venues", venues], capture_output=True,
                          text=True, timeout=20, check=False)
    assert done.returncode == 2, done.stdout[-2000:]
    assert "--venues names no venue; known: binance, bybit" in done.stderr
