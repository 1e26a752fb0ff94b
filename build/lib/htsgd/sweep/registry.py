"""The runners a sweep may name: an explicit registry, never an import named by a data file.

A sweep's ``[sweep] runner`` is a *name* looked up here, not a ``module:function``
to import: a config is data, and a TOML file beside an ``evil_runner.py`` must not
be able to run it. A name is registered by code the user runs, never by a config:

* the package's own runner, :data:`DEFAULT_RUNNER` (:func:`htsgd.sweep.run_cell`);
* an installed package's entry point in the group :data:`ENTRY_POINT_GROUP`
  (``[project.entry-points."htsgd.runners"]`` ``my-runner = "mypkg.cells:run"``);
* :func:`register_runner` in Python, or ``python -m htsgd sweep --allow-runner
  module:function`` on the command line (the name is then ``module:function``).

The names are the cache keys' runner part (:func:`htsgd.sweep.cell_hash`), so the
package's runner keeps its historical name ``"htsgd.sweep:run_cell"`` and existing
caches stay valid. Workers (local processes, Dask) never look a name up: the sweep
resolves it here and ships the function itself, pickled by reference, so whatever
this process registered reaches every worker.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

__all__ = [
    "DEFAULT_RUNNER",
    "ENTRY_POINT_GROUP",
    "UnknownRunnerError",
    "register_runner",
    "get_runner",
    "runner_names",
    "is_registered",
]

#: The package's own runner (:func:`htsgd.sweep.run_cell`); the name predates the registry
#: and stays, since it is part of every cached cell's hash.
DEFAULT_RUNNER = "htsgd.sweep:run_cell"
#: The entry-point group through which an installed package registers runners.
ENTRY_POINT_GROUP = "htsgd.runners"

Runner = Callable[[dict[str, Any]], dict[str, Any]]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.]*)?")
_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*")
_registered: dict[str, Runner] = {}


class UnknownRunnerError(KeyError):
    """A sweep names a runner that is not registered; the message says how to register one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _default() -> Runner:
    from .cell import run_cell

    return run_cell


def _import(spec: str) -> Runner:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def register_runner(name: str, function: Runner | None = None) -> str:
    """Register a runner under ``name``; return the name.

    Parameters
    ----------
    name : str
        The name configs use (``[sweep] runner = "..."``). With ``function``
        omitted it must be ``"module:function"``, which is imported now (this is
        the trusted path: code or the command line, never a config file).
    function : callable, optional
        ``function(config_dict) -> metrics_dict``. Ship it to process pools or
        Dask by reference: define it at the top level of an importable module.

    Raises
    ------
    ValueError
        If ``name`` is malformed, is the package's own runner's, or cannot be
        imported.
    TypeError
        If the runner is not callable.

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"a runner name is letters, digits, '_', '.', '-' and at most one ':', got {name!r}"
        )
    if function is None:
        if not _SPEC.fullmatch(name):
            raise ValueError(f"runner {name!r}: give a function, or a name 'module:function'")
        try:
            function = _import(name)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"runner {name!r} cannot be imported: {err}") from err
    if not callable(function):
        raise TypeError(f"runner {name!r} is not callable: {function!r}")
    if name == DEFAULT_RUNNER and function is not _default():
        raise ValueError(f"{DEFAULT_RUNNER!r} is the package's own runner; choose another name")
    _registered[name] = function  # registering a name again replaces its function
    return name


def runner_names() -> tuple[str, ...]:
    """Every registered name: the package's, then this process's, then installed entry points.

    >>> runner_names()[0]
    'htsgd.sweep:run_cell'

    Introduced in the chapter *Compressibility experiments*.
    """
    names = [DEFAULT_RUNNER, *sorted(_registered)]
    names += sorted(set(_entry_points()) - set(names))
    return tuple(dict.fromkeys(names))


def is_registered(name: Any) -> bool:
    """Whether ``name`` is a registered runner (without importing it)."""
    return isinstance(name, str) and (
        name == DEFAULT_RUNNER or name in _registered or name in _entry_points()
    )


def get_runner(name: str) -> Runner:
    """The function registered as ``name`` (an entry point is loaded on first use).

    Raises :class:`UnknownRunnerError` naming the registered runners and how to add one.
    """
    if name == DEFAULT_RUNNER:
        return _default()
    if name in _registered:
        return _registered[name]
    eps = _entry_points() if isinstance(name, str) else {}
    if name in eps:
        function = eps[name].load()
        if not callable(function):
            raise TypeError(f"the entry point {name!r} of {ENTRY_POINT_GROUP!r} is not callable")
        _registered[name] = function
        return function
    raise UnknownRunnerError(unknown_runner_message(name))


def unknown_runner_message(name: Any) -> str:
    """One line: ``name`` is not registered, the registered names, how to register one."""
    return (
        f"runner {name!r} is not registered (registered: {', '.join(runner_names())}); "
        f"a config cannot import code: register it with --allow-runner module:function, "
        f"htsgd.sweep.register_runner, or an entry point in the group {ENTRY_POINT_GROUP!r}"
    )
