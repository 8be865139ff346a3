"""Core statements built once per shape and run with each request's values.

Building a Core statement (its column collections, CTEs, aliases) costs milliseconds, and
so does compiling it; a map request pays about 10 ms before it does its work (issue 10).
So a statement is built once per *shape*: which filters are present, which view, which
order, never their values; every value travels as a named bound parameter. A request builds
only its small conditions (a few bound values), looks the statement up by their shape and
runs it with their values. SQLAlchemy's compiled cache then hits too (the statement is the
same object, its cache key memoised).

Bound names are fixed (``bind``): within one statement one name is one value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import BindParameter, ClauseElement

T = TypeVar("T", bound=Executable)

_KEPT = 1024
_STATEMENTS: OrderedDict[Hashable, Any] = OrderedDict()
_COMPILED: OrderedDict[Hashable, Compiled] = OrderedDict()
_LOCK = threading.Lock()


def shape(*expressions: ClauseElement | None) -> tuple:
    """What the statement built around ``expressions`` depends on: their structure (SQL,
    bound names and types), not their values."""
    return tuple(None if e is None else _structure(e) for e in expressions)


def _structure(expression: ClauseElement) -> Hashable:
    key = expression._generate_cache_key()
    if key is None:
        raise ValueError(f"{expression!r} cannot be cached")
    return key.key


def values(*expressions: ClauseElement | None) -> dict[str, Any]:
    """The bound values of ``expressions``, by name (a name bound to two values is a
    mistake: it would run with one of them)."""
    found: dict[str, Any] = {}
    for expression in expressions:
        if expression is None:
            continue
        for element in visitors.iterate(expression):
            if isinstance(element, BindParameter):
                if element.key in found and found[element.key] != element.value:
                    raise ValueError(f"parameter {element.key!r} bound to two values")
                found[element.key] = element.value
    return found


def _kept(store: OrderedDict, key: Hashable, make: Callable[[], Any]) -> Any:
    with _LOCK:
        found = store.get(key)
        if found is not None:
            store.move_to_end(key)
            return found
    made = make()
    with _LOCK:
        store[key] = made
        if len(store) > _KEPT:
            store.popitem(last=False)
    return made


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """The statement of this shape, built by ``build`` the first time."""
    return _kept(_STATEMENTS, key, build)


def compiled(statement: Executable, dialect: Dialect) -> Compiled:
    """``statement`` compiled for ``dialect``, once (for a cursor SQLAlchemy does not run)."""
    key = (dialect.name, statement._generate_cache_key().key)  # type: ignore[attr-defined]
    return _kept(_COMPILED, key, lambda: statement.compile(dialect=dialect))  # type: ignore[attr-defined]
