"""The Cypher library: every query cntgraph runs is a file in ``cypher/``, loaded here by name.

A file holds one statement, after a header of ``//`` comment lines that says what it answers, its
parameters and an example call. Names are file paths without ``.cypher``, such as
``"schema/run_key"`` or ``"link_history"``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from cntgraph.errors import QueryError

_PACKAGE = "cntgraph.cypher"
_SUFFIX = ".cypher"
# comments, string literals and quoted names are matched (and skipped) as wholes, so that a `$`
# inside them is no parameter; group 1 is a parameter's name
#: comments, string literals, quoted names, and $parameters (group 1) of Cypher text
TOKENS = re.compile(r"""//[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|\$(\w+)""", re.DOTALL)


def _root() -> Traversable:
    return resources.files(_PACKAGE)


@lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
    """Every query name in the library, sorted.

    Example:
        >>> "write/neuron_states" in names()
        True
    """
    found: list[str] = []
    stack: list[tuple[str, Traversable]] = [("", _root())]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                stack.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(_SUFFIX):
                found.append(prefix + entry.name[: -len(_SUFFIX)])
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of query ``name``; QueryError lists near names when there is no such query.

    Example:
        >>> load("read/run").lstrip().startswith("//")
        True
    """
    if name not in names():
        near = difflib.get_close_matches(name, names(), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(near)}?" if near else " `cntgraph query --list` lists them."
        raise QueryError(f"no query named {name!r} in the Cypher library.{hint}")
    return _root().joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def header(name: str) -> str:
    """The leading comment block of query ``name``, without the ``//`` markers.

    Example:
        >>> header("read/run").splitlines()[0]
        'The Run node of one name, if any: its id, when it was created, and its complete epochs.'
    """
    return "\n".join(line.strip()[2:].strip() for line in _split(name)[0]).strip()


def statement(name: str) -> str:
    """Query ``name`` without its header of ``//`` lines: what Browser's editor gets.

    Example:
        >>> statement("read/ping")
        'RETURN 1 AS ok'
    """
    return "\n".join(_split(name)[1]).strip()


def resource(path: str) -> str:
    """A file of the library that is not a query, such as ``browser/style.grass``.

    Example:
        >>> resource("browser/style.grass").lstrip().startswith("{")
        True
    """
    return _root().joinpath(path).read_text(encoding="utf-8")


def _split(name: str) -> tuple[list[str], list[str]]:
    """The header lines (leading ``//`` and blank lines) and the statement lines of query ``name``."""
    lines = load(name).splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].lstrip().startswith("//")):
        start += 1
    return [line for line in lines[:start] if line.strip()], lines[start:]


@lru_cache(maxsize=None)
def parameters(name: str) -> tuple[str, ...]:
    """The ``$parameters`` query ``name`` uses, sorted.

    Example:
        >>> parameters("read/run")
        ('name',)
    """
    return parameters_in(load(name))


def parameters_in(text: str) -> tuple[str, ...]:
    """The ``$parameters`` of Cypher ``text``, sorted; those in comments and string literals do not count.

    Example:
        >>> parameters_in("MATCH (n {a: $a}) /* or $b */ RETURN '$c' AS c, $d")
        ('a', 'd')
    """
    return tuple(sorted({match[1] for match in TOKENS.finditer(text) if match[1]}))


def check_parameters(name: str, given: Iterable[str]) -> None:
    """Raise QueryError naming missing or unknown parameters of query ``name``, before it is sent.

    Example:
        >>> check_parameters("read/run", ["nme"])
        Traceback (most recent call last):
        ...
        cntgraph.errors.QueryError: query 'read/run' takes $name (missing: name; unknown: nme). Parameters: $name - run name.
    """
    needed, supplied = set(parameters(name)), set(given)
    missing, unknown = sorted(needed - supplied), sorted(supplied - needed)
    if not (missing or unknown):
        return
    problems = [f"missing: {', '.join(missing)}"] if missing else []
    problems += [f"unknown: {', '.join(unknown)}"] if unknown else []
    takes = ", ".join(f"${p}" for p in parameters(name)) or "no parameters"
    usage = next((line for line in header(name).splitlines() if line.startswith("Parameters:")), "")
    raise QueryError(f"query {name!r} takes {takes} ({'; '.join(problems)}). {usage}".rstrip())


#: the type of every parameter name the library uses: one name, one meaning, in every query
PARAMETER_TYPES: dict[str, str] = {
    **dict.fromkeys(("run", "name", "by"), "string"),
    **dict.fromkeys(("z", "width"), "number"),
    **dict.fromkeys(("runs",), "list of strings"),
    **dict.fromkeys(
        ("rid", "epoch", "layer", "unit", "k", "start", "end", "src", "dst", "src_layer", "dst_layer",
         "src_unit", "dst_unit", "links", "neuron_states"),
        "integer",
    ),  # fmt: skip
    **dict.fromkeys(("epochs", "units"), "list of integers"),
    **dict.fromkeys(("props",), "map"),
    **dict.fromkeys(
        ("bias", "in_layers", "in_units", "layers", "s", "s_in", "s_out", "scores", "states", "w_in", "w_in_sum"), "list"
    ),
}


def typed_value(parameter: str, text: str) -> object:
    """``text`` (as typed on a command line) as the value of ``parameter``, by its declared type.

    Strings stay strings (a run named ``1`` is ``"1"``); integers are whole numbers, numbers any
    finite number; lists of integers or of strings are comma-separated or JSON; lists and maps are
    JSON. QueryError names the parameter and its type when ``text`` is not one.

    Example:
        >>> typed_value("run", "1"), typed_value("epoch", "3"), typed_value("epochs", "1,2"), typed_value("width", "0.1")
        ('1', 3, [1, 2], 0.1)
        >>> typed_value("runs", "ens-*,demo-mlp")
        ['ens-*', 'demo-mlp']
        >>> typed_value("epoch", "three")
        Traceback (most recent call last):
        ...
        cntgraph.errors.QueryError: parameter $epoch is an integer, got 'three'
    """
    kind = PARAMETER_TYPES.get(parameter)
    if kind is None or kind == "string":
        return text
    try:
        if kind == "integer":
            return int(text)
        if kind == "number" and math.isfinite(number := float(text)):
            return number
        if kind == "list of strings":
            value = json.loads(text) if text.lstrip().startswith("[") else [part.strip() for part in text.split(",") if part.strip()]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value
        if kind == "list of integers":
            value = json.loads(text) if text.lstrip().startswith("[") else [int(part) for part in text.split(",") if part.strip()]
            if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return value
        else:
            value = json.loads(text)
            if isinstance(value, dict if kind == "map" else list):
                return value
    except ValueError:
        pass
    article = "an" if kind[0] in "aeiou" else "a"
    raise QueryError(f"parameter ${parameter} is {article} {kind}, got {text!r}")
