"""A throwaway redis-server on a free loopback port, in a temporary directory."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cluster_port() -> int:
    """A free port a cluster node can take: its bus listens 10 000 above, so at most 55535, and free too."""
    for _ in range(1000):
        port = free_port()
        if port <= 55535 and _free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class RedisServer:
    """``with RedisServer() as redis: redis.url`` runs a private, persistence-free server.

    ``binary`` is None when redis-server is not installed; :meth:`start` then raises
    ``FileNotFoundError`` so callers can skip or fail as they see fit. ``options``: more
    command-line options, e.g. ``("--cluster-enabled", "yes")``.
    """

    def __init__(self, binary: str | None = None, start_timeout: float = 10.0, options: Sequence[str] = ()) -> None:
        self.binary = binary or shutil.which("redis-server") or _existing("/usr/bin/redis-server")
        self.start_timeout = start_timeout
        self.options = tuple(options)
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running server's process id."""
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections; started again, on its old port (a restart)."""
        if self.binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self._dir = tempfile.TemporaryDirectory(prefix="lotusx-redis-")
        self.port = self.port or free_port()
        self._process = subprocess.Popen(self._args(self.binary, self._dir.name), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"redis-server exited at start: {stderr.strip()}")
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server did not answer within {self.start_timeout}s")

    def _args(self, binary: str, directory: str) -> list[str]:
        """The command line that starts the server in ``directory``."""
        return [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", directory, "--save", "",
                "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning", *self.options]

    def _answers(self) -> bool:
        """Whether the server answers yet."""
        return _answers_ping(self.port)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisSentinel(RedisServer):
    """``with RedisSentinel(master.port) as sentinel:`` a sentinel watching ``master`` as service ``name``.

    ``password``: the master's, and the sentinel's own (a ``limits`` sentinel URI gives both the
    same). The master is taken as down only after a minute, so a test that stops it still gets
    its address from the sentinel.
    """

    def __init__(self, master_port: int, name: str = "mymaster", password: str = "",
                 start_timeout: float = 10.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self.master_port = master_port
        self.name = name
        self.password = password

    def _args(self, binary: str, directory: str) -> list[str]:
        # A sentinel takes its configuration from a file it may rewrite: one of its own, in its directory.
        lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {directory}", "loglevel warning",
                 f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1",
                 f"sentinel down-after-milliseconds {self.name} 60000"]
        if self.password:
            lines += [f"requirepass {self.password}", f"sentinel auth-pass {self.name} {self.password}"]
        config = Path(directory) / "sentinel.conf"
        config.write_text("\n".join(lines) + "\n")
        return [binary, str(config), "--sentinel"]


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA, and a certificate it signed for 127.0.0.1 and localhost, as PEM files."""

    ca: Path
    certificate: Path
    key: Path

    @staticmethod
    def make(directory: Path, openssl: str = "openssl", names: str = "IP:127.0.0.1,DNS:localhost") -> Certificates:
        """Make them in ``directory`` with ``openssl`` (no network; each step bounded to 10 s).

        ``names``: the certificate's subjectAltName, whom it is for.
        """
        ca, ca_key = directory / "ca.pem", directory / "ca.key"
        certificate, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
        extensions = directory / "names.ext"
        extensions.write_text(f"subjectAltName={names}\n")
        new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]  # EC: made at once
        for step in (
            [openssl, "req", "-x509", *new_key, "-keyout", ca_key, "-out", ca, "-days", "1",
             "-subj", "/CN=lotusx test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            [openssl, "req", *new_key, "-keyout", key, "-out", request, "-subj", "/CN=lotusx test server"],
            [openssl, "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out",
             certificate, "-days", "1", "-extfile", extensions],
        ):
            subprocess.run([str(arg) for arg in step], check=True, capture_output=True, timeout=10)
        return Certificates(ca, certificate, key)


class TlsRedisServer(RedisServer):
    """A redis-server answering on TLS only, with ``certificates``; ``url`` is its ``rediss://``."""

    def __init__(self, certificates: Certificates, options: Sequence[str] = ()) -> None:
        super().__init__(options=options)
        self.certificates = certificates

    @property
    def url(self) -> str:
        """``rediss://127.0.0.1:<port>``."""
        return f"rediss://127.0.0.1:{self.port}"

    def _args(self, binary: str, directory: str) -> list[str]:
        certificates = self.certificates
        return [*super()._args(binary, directory), "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", str(certificates.certificate), "--tls-key-file", str(certificates.key),
                "--tls-ca-cert-file", str(certificates.ca), "--tls-auth-clients", "no"]

    def _answers(self) -> bool:
        context = ssl.create_default_context(cafile=self.certificates.ca)
        context.check_hostname = False  # up is up, whomever its certificate is for
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as plain, \
                    context.wrap_socket(plain, server_hostname="127.0.0.1") as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:  # ssl.SSLError too
            return False


def _existing(path: str) -> str | None:
    return path if Path(path).exists() else None


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))  # up, with a password or without
    except OSError:
        return False
