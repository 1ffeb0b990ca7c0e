"""Where Neo4j comes from: explicit arguments, then NEO4J_* variables, then the managed local server.

:func:`connect` (``cntgraph.connect``) resolves the endpoint, opens a runner on it, checks it and
creates cntgraph's schema, and returns the :class:`~cntgraph.store.graph.Graph` read API.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import neo4j

from cntgraph.errors import ConfigurationError
from cntgraph.server.managed import USER, ManagedServer
from cntgraph.store.graph import Graph
from cntgraph.store.runner import Neo4jRunner, Target

__all__ = ["connect", "resolve"]

ENV_URI, ENV_USER, ENV_PASSWORD, ENV_DATABASE = "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def resolve(
    uri: str | None = None,
    auth: tuple[str, str] | None = None,
    database: str | None = None,
) -> Target:
    """Resolve the endpoint: arguments first, then ``NEO4J_URI``/``NEO4J_USER``/
    ``NEO4J_PASSWORD``/``NEO4J_DATABASE``, then the managed local server (started on demand).

    Example:
        >>> resolve("bolt://db.example:7687", ("neo4j", "secret")).source
        'arguments'
    """
    database = database or os.environ.get(ENV_DATABASE) or None
    if uri is not None:
        user, password = auth if auth is not None else _env_auth("arguments")
        return Target(_checked(uri, "the uri argument"), user, password, database, "arguments", _browser_url(uri))
    env_uri = os.environ.get(ENV_URI)
    if env_uri:
        user, password = auth if auth is not None else _env_auth(f"{ENV_URI}={env_uri}")
        return Target(_checked(env_uri, ENV_URI), user, password, database, "environment (NEO4J_URI)", _browser_url(env_uri))
    return _managed(database)


def connect(
    uri: str | neo4j.Driver | None = None,
    auth: tuple[str, str] | None = None,
    database: str | None = None,
) -> Graph:
    """Connect to Neo4j, check the connection and create cntgraph's schema if missing.

    ``uri`` may be a URI or an open ``neo4j.Driver`` (left open on close). Without one, the
    ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD``/``NEO4J_DATABASE`` variables are used, else
    the managed local server, which is installed and started on demand.

    Example:
        import cntgraph
        with cntgraph.connect() as graph:
            print(graph.browser_url)
        http://127.0.0.1:7474/browser/
    """
    if isinstance(uri, neo4j.Driver):
        runner = Neo4jRunner(uri, database=database)
    else:
        runner = Neo4jRunner.open(resolve(uri, auth, database))
    try:
        runner.verify()
        runner.ensure_schema()
    except BaseException:
        runner.close()
        raise
    return Graph(runner)


def _managed(database: str | None) -> Target:
    server = ManagedServer()
    state, _ = server.start()
    return Target(state.bolt_uri, USER, server.password(), database, f"managed local server ({server.instance})", state.browser_url)


def _env_auth(context: str) -> tuple[str, str]:
    password = os.environ.get(ENV_PASSWORD)
    if password is None:
        raise ConfigurationError(
            f"no password for Neo4j at {context}: pass auth=(user, password) or set {ENV_PASSWORD} "
            f"(and {ENV_USER} when the user is not 'neo4j')."
        )
    return os.environ.get(ENV_USER, "neo4j"), password


def _checked(uri: str, where: str) -> str:
    scheme = urlsplit(uri).scheme
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"{where} is {uri!r}, which is not a Neo4j URI; use one of the schemes "
            f"{', '.join(s + '://' for s in _SCHEMES)} (for example bolt://127.0.0.1:7687)."
        )
    return uri


def _browser_url(uri: str) -> str | None:
    """Neo4j Browser on the same host at the default HTTP port, or ``NEO4J_BROWSER_URL``."""
    explicit = os.environ.get("NEO4J_BROWSER_URL")
    if explicit:
        return explicit
    host = urlsplit(uri).hostname
    return f"http://{host}:7474/browser/" if host else None
