"""Neo4j Browser for cntgraph: the style it applies on connect, and links that open a run's graph.

Neo4j Browser takes a query for its editor from its own URL (``?cmd=edit&arg=<query>``), and runs
the server's ``browser.post_connect_cmd`` after every sign-in: cntgraph uses the latter to apply
``cypher/browser/style.grass``. The queries Browser opens are the library's ``browser/`` queries
(``cypher/browser/*.cypher``), whose ``$parameters`` are written into the text as literals,
because a URL can only fill the editor (see ``cypher/browser/README.md``).

Example:
    >>> from cntgraph.store.browser import editor_url
    >>> editor_url("http://127.0.0.1:7474/browser/", "browser/runs")[:64]
    'http://127.0.0.1:7474/browser/?cmd=edit&arg=MATCH%20%28run%3ARun'
"""

from __future__ import annotations

import json
import math
import unicodedata
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.store import library

if TYPE_CHECKING:  # only for the annotation: the managed server imports this module without pandas
    from cntgraph.store.graph import Graph

__all__ = ["cypher_string", "editor_url", "inline_parameters", "post_connect_cmd", "style", "url", "write_favorites"]

STYLE = "browser/style.grass"
# Characters a Cypher string literal must not hold as they are: the quote and the backslash
# (escaped with a backslash), and those that Browser or its URL handling would act on: `;` splits
# statements, `&` and `#` end a URL argument, control characters break lines. Cypher reads
# \uXXXX escapes before it parses (as Java does), so \uXXXX is used only for characters that are
# harmless inside the literal, never for the quote or the backslash.
_ESCAPES = {"\\": "\\\\", "'": "\\'"}
_UNICODE_ESCAPED = frozenset(";&#")


def style() -> dict[str, dict[str, str]]:
    """The Browser style of cntgraph, ``cypher/browser/style.grass`` (GRASS written as JSON).

    Example:
        >>> style()["node.Neuron"]["caption"]
        '{layer}:{unit}'
    """
    return json.loads(library.resource(STYLE))


def post_connect_cmd() -> str:
    """The value of the server setting ``browser.post_connect_cmd``: apply the style (and nothing
    else: Browser's own settings, such as connecting result nodes, stay the user's).

    Browser splits the value at ``;`` (except inside quotes) and runs each part as a ``:`` command;
    the style is sent as one-line JSON, which holds no ``;`` (Browser's ``:style`` reads JSON first).

    Example:
        >>> post_connect_cmd().startswith('style {"node": {')
        True
    """
    return f"style {json.dumps(style(), separators=(', ', ': '))}"


def cypher_string(text: str) -> str:
    """``text`` as a Cypher string literal that is safe to put in a query and in a Browser URL.

    Example:
        >>> print(cypher_string("it's a\\\\b; c&d"))
        'it\\'s a\\\\b\\u003B c\\u0026d'
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"a string is needed here, got {text!r}")
    return "'" + "".join(_escaped(char) for char in text) + "'"


def inline_parameters(query: str, **values: str | int) -> str:
    """``query`` with each ``$parameter`` replaced by its value as a literal (strings escaped).

    Parameters inside comments and string literals are left alone; every parameter the query uses
    must be given, and only those.

    Example:
        >>> inline_parameters("MATCH (r:Run {name: $run}) // not $this\\nRETURN r, $k", run="x'y", k=3)
        "MATCH (r:Run {name: 'x\\\\'y'}) // not $this\\nRETURN r, 3"
    """
    wanted = set(library.parameters_in(query))
    if wanted != set(values):
        raise QueryError(
            f"the query takes {', '.join(sorted(wanted)) or 'no parameters'}; got {', '.join(sorted(values)) or 'none'}"
        )
    literals = {name: _literal(name, value) for name, value in values.items()}
    return library.TOKENS.sub(lambda match: literals[match[1]] if match[1] else match[0], query)


def ready_query(name: str, **values: str | int) -> str:
    """Library query ``name`` without its header comment, ``values`` written in: ready to paste into Browser.

    Example:
        >>> print(ready_query("browser/fluctuation", run="mlp-1").splitlines()[0])
        MATCH (run:Run {name: 'mlp-1'})-[:HAS_LAYER]->(layer:Layer)-[:HAS_STATE]->(s:LayerState)
    """
    return inline_parameters(library.statement(name), **values)


def editor_url(browser_url: str, name: str, **values: str | int) -> str:
    """A Browser URL that opens with library query ``name`` in the editor, ``values`` written in.

    The query's header comment is left out. Browser decodes the whole URL before it reads ``arg``,
    so the text must hold no ``&`` or ``#``: :func:`cypher_string` escapes them in values.

    Example:
        >>> from urllib.parse import unquote
        >>> link = editor_url("http://127.0.0.1:7474/browser/", "browser/top_movers", run="mlp-1", start=0, end=9, k=5)
        >>> unquote(link).splitlines()[:2]
        ["http://127.0.0.1:7474/browser/?cmd=edit&arg=MATCH (run:Run {name: 'mlp-1'})", 'MATCH (first:Epoch {rid: run.rid, epoch: toInteger(0)}), (last:Epoch {rid: run.rid, epoch: toInteger(9)})']
    """
    text = ready_query(name, **values)
    if "&" in text or "#" in text:  # library text, never a value: values are escaped
        raise QueryError(f"query {name!r} holds '&' or '#', which a Browser URL cannot carry")
    return f"{browser_url}?cmd=edit&arg={quote(text, safe='')}"


def url(graph: Graph, run: str | None = None, epoch: int | None = None) -> str:
    """A Browser URL that opens with ``run``'s stored graph at ``epoch`` ready to run.

    ``epoch`` defaults to the run's last complete epoch; without ``run``, the runs overview.
    Raises QueryError when the run or the epoch is not recorded, ConfigurationError when the
    Browser address is unknown (set ``NEO4J_BROWSER_URL``).

    Example:
        url(cntgraph.connect(), "mlp-1")
        'http://127.0.0.1:7474/browser/?cmd=edit&arg=MATCH%20%28run%3ARun%20...'
    """
    if graph.browser_url is None:
        raise ConfigurationError(f"the address of Neo4j Browser for {graph.source} is unknown; set NEO4J_BROWSER_URL.")
    if run is None:
        if epoch is not None:
            raise ConfigurationError("an epoch needs a run")
        return editor_url(graph.browser_url, "browser/runs")
    complete = [int(done) for done in graph.epochs(run)["epoch"]]  # QueryError when there is no such run
    if not complete:
        raise QueryError(f"run {run!r} has no complete epoch yet")
    if epoch is None:
        epoch = complete[-1]
    elif epoch not in complete:
        contiguous = complete == list(range(complete[0], complete[-1] + 1))
        listed = f"{complete[0]}..{complete[-1]}" if contiguous else ", ".join(map(str, complete))
        raise QueryError(f"run {run!r} has no complete epoch {epoch}; its complete epochs are {listed}")
    return editor_url(graph.browser_url, "browser/epoch_graph", run=run, epoch=epoch)


def write_favorites(path: Path) -> Path:
    """Write the ``browser/`` queries as a zip that Browser imports into its Favorites.

    Drop the file on Browser's Favorites drawer. The queries take ``$parameters``: set them in
    Browser first, for example ``:param run => 'mlp-1'``.

    Example:
        >>> import tempfile
        >>> zipfile.ZipFile(write_favorites(Path(tempfile.mkdtemp()) / "f.zip")).namelist()[0]
        'cntgraph-changed_links.cypher'
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in library.names():
            if name.startswith("browser/"):
                archive.writestr(f"cntgraph-{name.removeprefix('browser/')}.cypher", library.load(name))
    return path




def _literal(name: str, value: object) -> str:
    if isinstance(value, str):
        return cypher_string(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(name, item) for item in value) + "]"
    raise ConfigurationError(f"${name} must be a string, a finite number or a list of them, got {value!r}")


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char in _UNICODE_ESCAPED or unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
        return f"\\u{ord(char):04X}"
    return char
