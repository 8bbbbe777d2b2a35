"""Running the studio app on uvicorn: bound to 127.0.0.1 unless remote use is asked for."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import quote

from segany_video.errors import UserInputError

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def missing_dependencies() -> str | None:
    """A one-line install hint when the studio's optional packages are absent, else None."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        return (
            f"the studio needs the optional packages starlette and uvicorn ({exc.name} is "
            "missing): pip install 'segany-video[studio]'"
        )
    return None


def is_local(host: str) -> bool:
    """True for loopback hosts (``localhost``, ``127.x.x.x``, ``::1``)."""
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``.

    Raises:
        UserInputError: naming the host and the flag that allows it.
    """
    if not is_local(host) and not allow_remote:
        raise UserInputError(
            f"--host {host} would let other machines reach the studio (and your files under "
            "--root); add --allow-remote if that is what you want"
        )


def page_url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={quote(token)}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket bound to ``host:port`` (port 0: a free one).

    Raises:
        UserInputError: the address is taken or cannot be bound.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until uvicorn serves them
    except OSError as exc:
        sock.close()
        raise UserInputError(
            f"cannot listen on {host}:{port}: {exc.strerror}; try --port 0"
        ) from None
    return sock


class BackgroundServer:
    """uvicorn serving an app in a daemon thread (for tests and embedding); :meth:`stop` ends it.

    Args:
        app: the ASGI app.
        host: address to bind.
        port: port, 0 for a free one (see :attr:`port` after :meth:`start`).
    """

    def __init__(self, app: object, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.host = host
        self._socket = bind_socket(host, port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True,
            name="studio-server",
        )  # fmt: skip

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the studio server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
