"""A Neo4j outage on demand: a TCP proxy in front of the test server's Bolt port that a test cuts
(every connection reset, new ones refused, as when a server goes away) and restores.

The server itself keeps running, so an outage costs no restart and the test decides exactly
when it begins and ends.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import neo4j

from cntgraph.store.graph import Graph
from cntgraph.store.runner import Neo4jRunner


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``uri``'s Bolt endpoint until :meth:`cut`."""

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 7687)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._serve()

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    def graph(self, auth: tuple[str, str]) -> Graph:
        """A Graph through the proxy whose driver gives up on an outage within a second."""
        driver = neo4j.GraphDatabase.driver(
            self.uri, auth=auth, notifications_min_severity="OFF", max_transaction_retry_time=0.5, connection_timeout=2.0
        )
        return Graph(Neo4jRunner(driver, owns_driver=True, source="the outage proxy"))

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        with self._lock:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it; close() alone would not
            except OSError:
                pass
            self._listener.close()
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        """Accept connections on the same port again."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._serve()

    def _serve(self) -> None:
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
