"""Where to find Neo4j: explicit arguments, then NEO4J_* variables, then the managed local server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cntgraph.errors import ConfigurationError

ENV_URI, ENV_USER, ENV_PASSWORD, ENV_DATABASE = "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class Target:
    """A resolved Neo4j endpoint and where its settings came from (``source``, for messages)."""

    uri: str
    user: str
    password: str = field(repr=False)
    database: str | None
    source: str
    browser_url: str | None = None


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


def _managed(database: str | None) -> Target:
    from cntgraph.server import ManagedServer, USER

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
