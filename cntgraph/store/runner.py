"""``Neo4jRunner``: the one seam between cntgraph and the Neo4j driver.

Every query runs through :meth:`Neo4jRunner.run` (writes) or :meth:`Neo4jRunner.query` (reads) by
its name in the Cypher library, with ``$parameters``, and every transaction carries metadata naming
the query. The read API (:class:`~cntgraph.store.graph.Graph`), the writer and the aggregation take
a runner; nothing else touches the driver.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import neo4j
import pandas as pd
from neo4j import exceptions as neo4j_errors

from cntgraph.errors import ConnectionError, QueryError
from cntgraph.store import library

T = TypeVar("T")

#: how long a transaction is retried on transient errors (with backoff) before it fails
RETRY_SECONDS = 10.0
#: how long an ad-hoc query may run by default, in seconds
AD_HOC_TIMEOUT = 60.0
#: procedures an ad-hoc query may call: the schema's, which read nothing but names
SCHEMA_PROCEDURES = re.compile(r"(db\.labels|db\.relationshipTypes|db\.propertyKeys|db\.schema\.\w+|dbms\.components)\(")
#: SHOW commands an ad-hoc query may run: the schema's, and what the server can call
SCHEMA_COMMANDS = frozenset({"ShowIndexes", "ShowConstraints", "ShowFunctions", "ShowProcedures"})


@dataclass(frozen=True)
class Target:
    """A resolved Neo4j endpoint and where its settings came from (``source``, for messages)."""

    uri: str
    user: str
    password: str = field(repr=False)
    database: str | None
    source: str
    browser_url: str | None = None


class Neo4jRunner:
    """Runs the library's queries, and read-only ad-hoc Cypher, on one Neo4j database.

    It closes the driver on ``close()`` only when it created that driver (:meth:`open`).

    Example:
        runner = Neo4jRunner(neo4j.GraphDatabase.driver(uri, auth=auth))
        runner.query("read/run", name="mlp-1")
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        *,
        database: str | None = None,
        source: str = "a driver passed by the caller",
        owns_driver: bool = False,
        browser_url: str | None = None,
        target: Target | None = None,
    ) -> None:
        self.driver = driver
        #: where :meth:`open` connected (None for a caller's driver): another process can connect there too
        self.target = target
        self.database = database
        self.source = source
        self.browser_url = browser_url
        self._owns_driver = owns_driver
        self._schema_ready = False
        #: seconds an ad-hoc query (:meth:`cypher`) may run before the server stops it
        self.query_timeout = AD_HOC_TIMEOUT

    @classmethod
    def open(cls, target: Target) -> Neo4jRunner:
        """A runner with a driver of its own for ``target`` (closed by :meth:`close`)."""
        try:
            driver = neo4j.GraphDatabase.driver(
                target.uri,
                auth=(target.user, target.password),
                notifications_min_severity="OFF",
                max_transaction_retry_time=RETRY_SECONDS,
            )
        except (ValueError, neo4j_errors.ConfigurationError) as error:
            raise ConnectionError(f"cannot use Neo4j URI {target.uri!r} (from {target.source}): {error}") from error
        return cls(
            driver,
            database=target.database,
            source=f"{target.source}: {target.uri} as {target.user}",
            owns_driver=True,
            browser_url=target.browser_url,
            target=target,
        )

    def __repr__(self) -> str:
        return f"Neo4jRunner(source={self.source!r}, database={self.database!r})"

    def close(self) -> None:
        """Close the driver if this runner created it; a caller's driver is left open."""
        if self._owns_driver:
            self.driver.close()

    def verify(self) -> None:
        """Check that the server answers, accepts the credentials and has the database."""
        with self._translated("verify"):
            self.driver.verify_connectivity()
        self._execute(_statement("read/ping", {}), {}, "read/ping", neo4j.RoutingControl.READ, lambda result: result.consume())

    # -- running queries -------------------------------------------------------------------
    def run(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run library query ``name`` in a write transaction; return its rows as dicts.

        Example:
            runner.run("write/epoch_complete", rid=42, epoch=3, links=0)
        """
        return self.run_many([(name, params)])[0]

    def run_many(self, statements: Sequence[tuple[str, dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        """Run library queries in order in one write transaction (retried whole on transient
        errors); return the rows of each.

        Example:
            runner.run_many([("write/layer_states", {...}), ("write/epoch_complete", {...})])
        """
        texts = [_statement(name, params) for name, params in statements]
        label = "+".join(dict.fromkeys(name for name, _ in statements))

        @neo4j.unit_of_work(metadata={"app": "cntgraph", "query": label})
        def work(tx: neo4j.ManagedTransaction) -> list[list[dict[str, Any]]]:
            return [_rows(tx.run(text, params)) for text, (_, params) in zip(texts, statements, strict=True)]

        with self._translated(label), self.driver.session(
            database=self.database, bookmark_manager=self.driver.execute_query_bookmark_manager
        ) as session:
            return session.execute_write(work)

    def query(self, name: str, /, **params: Any) -> pd.DataFrame:
        """Run library query ``name`` in a read transaction; return a DataFrame.

        Example:
            runner.query("read/run", name="mlp-1")
        """
        return self._execute(_statement(name, params), params, name, neo4j.RoutingControl.READ, neo4j.Result.to_df)

    def run_autocommit(self, name: str, /, **params: Any) -> None:
        """Run library query ``name`` as an auto-commit transaction (for ``CALL ... IN TRANSACTIONS``)."""
        query = neo4j.Query(_statement(name, params), metadata={"app": "cntgraph", "query": name})
        with self._translated(name), self.driver.session(
            database=self.database, bookmark_manager=self.driver.execute_query_bookmark_manager
        ) as session:  # the same bookmarks as every other query: on a cluster, later reads see this write
            session.run(query, params).consume()

    def ensure_schema(self) -> None:
        """Create cntgraph's constraints and indexes (``cypher/schema/``) if missing; idempotent."""
        if self._schema_ready:
            return
        for name in library.names():
            if name.startswith("schema/"):
                self.run(name)
        self._schema_ready = True

    def cypher(self, text: str, /, **params: Any) -> pd.DataFrame:
        """Run ad-hoc Cypher in read access mode: a write is refused and changes nothing, and so is a
        query that would read files or URLs (``LOAD CSV``), call a procedure other than the schema's
        (``db.labels()``...), or reach other sessions or the server's settings (``SHOW
        TRANSACTIONS``, ``TERMINATE TRANSACTIONS``, ``SHOW SETTINGS``). Its plan is checked before
        it runs; it is stopped after :attr:`query_timeout` seconds.

        Example:
            runner.cypher("MATCH (n) RETURN count(n) AS n")
        """
        plan = self._execute(f"EXPLAIN {text}", params, "ad-hoc", neo4j.RoutingControl.READ, lambda result: result.consume().plan)
        refused = sorted(set(_refused_operations(plan or {})))
        if refused:
            raise QueryError(
                f"ad-hoc queries may only read the graph; this one would use {', '.join(refused)}, which read files or "
                "URLs, call procedures, or reach other sessions or the server's settings. Nothing was run."
            )
        return self._execute(text, params, "ad-hoc", neo4j.RoutingControl.READ, neo4j.Result.to_df, self.query_timeout)

    def _execute(
        self,
        text: str,
        params: dict[str, Any],
        name: str,
        routing: neo4j.RoutingControl,
        transform: Callable[[neo4j.Result], T],
        timeout: float | None = None,
    ) -> T:
        query = neo4j.Query(text, metadata={"app": "cntgraph", "query": name}, timeout=timeout)
        with self._translated(name):
            return self.driver.execute_query(
                query,
                parameters_=params,
                database_=self.database,
                routing_=routing,
                result_transformer_=transform,
            )

    @contextmanager
    def _translated(self, name: str) -> Iterator[None]:
        """Turn driver errors into cntgraph errors that name the endpoint's source or the query."""
        try:
            yield
        except neo4j_errors.AuthError as error:
            raise ConnectionError(
                f"Neo4j refused the credentials (settings from {self.source}): {error.message}. "
                "Check NEO4J_USER / NEO4J_PASSWORD or the auth argument."
            ) from error
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, OSError) as error:
            raise ConnectionError(
                f"cannot reach Neo4j (settings from {self.source}): {error}. Is the server running "
                "and the URI right? `cntgraph neo4j status` shows the managed server."
            ) from error
        except neo4j_errors.TransientError as error:  # still failing after the driver's retries: try again later
            raise ConnectionError(
                f"Neo4j could not run query {name!r} for now (settings from {self.source}): {error.message} "
                f"({error.code}). Try again later."
            ) from error
        except neo4j_errors.ClientError as error:
            if error.code == "Neo.ClientError.Database.DatabaseNotFound":
                raise ConnectionError(
                    f"Neo4j has no database {self.database!r} (settings from {self.source}); "
                    "Community edition has one database, 'neo4j'. Unset NEO4J_DATABASE or fix it."
                ) from error
            if error.code.startswith("Neo.ClientError.Transaction.TransactionTimedOut"):
                raise QueryError(
                    f"query {name!r} ran longer than {self.query_timeout:g} s and was stopped; narrow it (one run, one "
                    "epoch, a LIMIT) or allow longer: Neo4jRunner.query_timeout."
                ) from error
            if error.code == "Neo.ClientError.Statement.AccessMode":
                raise QueryError(
                    f"query {name!r} tried to write, but ad-hoc queries run read-only; nothing was "
                    "changed. Writes go through cntgraph's own API."
                ) from error
            raise QueryError(f"Neo4j refused query {name!r}: {error.message} ({error.code})") from error


def _statement(name: str, params: dict[str, Any]) -> str:
    """The text of library query ``name``, once ``params`` are checked against its ``$parameters``."""
    text = library.load(name)
    library.check_parameters(name, params)
    return text


def _refused_operations(plan: dict[str, Any]) -> Iterator[str]:
    """The operations of a query plan that ad-hoc queries may not use, by name.

    Example:
        >>> plan = {"operatorType": "ProduceResults@neo4j", "children": [{"operatorType": "LoadCSV@neo4j", "args": {}}]}
        >>> list(_refused_operations(plan))
        ['LOAD CSV']
    """
    operator = str(plan.get("operatorType", "")).split("@")[0]
    details = str(plan.get("args", plan.get("arguments", {})).get("Details", ""))
    if operator == "LoadCSV":
        yield "LOAD CSV"
    elif operator == "ProcedureCall" and not SCHEMA_PROCEDURES.match(details):
        yield f"the procedure {details.split('(')[0]}"
    elif operator.startswith(("Show", "Terminate")) and operator not in SCHEMA_COMMANDS:
        yield re.sub(r"(?<=[a-z])(?=[A-Z])", " ", operator).upper()
    for child in plan.get("children", ()):
        yield from _refused_operations(child)


def _rows(result: neo4j.Result) -> list[dict[str, Any]]:
    return [record.data() for record in result]
