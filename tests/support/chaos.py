"""A TCP proxy that a test can break: services reach RabbitMQ through it, so a test can cut their
broker connections (or refuse new ones for a while) without root and without touching the
RabbitMQ that other tests share.

Two threads per connection pump bytes each way; `cut()` resets every live connection at once
(RST to both ends, as a dead network or a crashed broker would look), `block()` also resets every
new connection the moment it arrives, until `unblock()`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

_LINGER_RST = struct.pack("ii", 1, 0)   # SO_LINGER on, 0 s: close() sends RST, not FIN


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Pair:
    def __init__(self, proxy: TcpProxy, client: socket.socket, upstream: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._closed = False
        self._half_closed = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        for src, dst in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True,
                             name=f"tcpproxy-{self.proxy.port}-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    # orderly close from one side: pass the FIN on, keep the other way open
                    # until it closes too
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    with self._lock:
                        self._half_closed += 1
                        both = self._half_closed == 2
                    if both:
                        self.close()
                    return
                dst.sendall(data)
                self.proxy.bytes_forwarded += len(data)
        except OSError:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _reset(self.client)
        _reset(self.upstream)
        self.proxy._forget(self)


class TcpProxy:
    def __init__(self, listen_port: int = 0, target: tuple[str, int] = ("127.0.0.1", 5672),
                 host: str = "127.0.0.1"):
        self.target = target
        self.host = host
        self.bytes_forwarded = 0
        self.accepted = 0           # connections forwarded since the start
        self.refused = 0            # connections reset because the proxy was blocked
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._blocked = False
        self._stopping = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, listen_port))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"tcpproxy-{self.port}")
        self._thread.start()

    def __repr__(self) -> str:
        return (f"<TcpProxy :{self.port} -> {self.target[0]}:{self.target[1]} "
                f"{len(self._pairs)} live{' BLOCKED' if self._blocked else ''}>")

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._pairs)

    @property
    def blocked(self) -> bool:
        return self._blocked

    def wait_for_connections(self, predicate, timeout: float = 30.0) -> int:
        """Waits until `predicate(number of live connections)` holds, e.g. `lambda n: n >= 2`
        after a cut, to know that the services have reconnected. Returns that number."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(len(self._pairs)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self}: connection count {len(self._pairs)} never matched the "
                        f"predicate in {timeout} s")
                self._changed.wait(remaining)
            return len(self._pairs)

    def cut(self) -> int:
        """Resets every live connection at once; new connections are still accepted.
        Returns how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.close()
        return len(pairs)

    def block(self) -> int:
        """Cuts every live connection and resets every new one until `unblock()`."""
        self._blocked = True
        return self.cut()

    def unblock(self) -> None:
        self._blocked = False

    def stop(self) -> None:
        self._stopping = True
        self._blocked = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(5)

    # --- internals -------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.1)
            except (OSError, ValueError):
                return   # listener closed by stop()
            if not readable:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            if self._blocked or self._stopping:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(self, client, upstream)
            with self._changed:
                if self._blocked:   # block() ran while we were connecting upstream
                    pair = None
                else:
                    self._pairs.add(pair)
                    self.accepted += 1
                    self._changed.notify_all()
            if pair is None:
                _reset(client)
                _reset(upstream)
                self.refused += 1
            else:
                pair.start()

    def _forget(self, pair: _Pair) -> None:
        with self._changed:
            self._pairs.discard(pair)
            self._changed.notify_all()
