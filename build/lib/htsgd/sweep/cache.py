"""The cell cache: one JSON record per finished cell, named by the hash of its config.

Each cell's result is a JSON file named by the SHA-256 of the cell's canonical JSON
(sorted keys, floats normalised, plus :data:`SCHEMA_VERSION` and the runner's name),
written atomically (temporary file in the same folder, ``fsync``, ``os.replace``).
:class:`Cache` is the one place that answers "is this cell done?": the sweep runner,
the command line's ``--dry-run`` and the chapters all ask it.

* A sweep killed at any moment (even by ``SIGKILL``) resumes without redoing
  finished cells and never reads a half-written one; the temporary files a kill
  leaves behind are removed the next time the cache is opened for writing.
* A record that is truncated, not JSON, nested absurdly deep, missing keys, of the
  wrong types, whose stored hash does not match its name or its config, whose
  checksum does not match its content, or whose metrics break their declared type
  or range (:mod:`htsgd.sweep.metrics`: ``iterations`` at most ``max_iters``,
  accuracies in [0, 1], every number finite) is reported (a warning naming the
  file and the problem) and the cell recomputed; a folder, a FIFO or a device
  where a record should be is treated the same way.
* A folder that cannot be written is reported before any cell runs, and only when
  a cell has to run: a read-only cache that holds every cell is enough.

Checksum, not keyed hash
------------------------
Each record stores the SHA-256 of its own canonical JSON (``checksum``). It catches
accidental and partial edits: a hand-edited number, a flipped bit, a record of one
schema patched into another. It does not stop deliberate tampering (whoever edits
a record can recompute the checksum), and neither would an HMAC here: its key
would have to live where the sweep can read it, and everyone who can write the
cache's records can read a key kept in the cache; a key kept elsewhere (per user,
per machine) would break what the cache is for, sharing it between the machines
of a cluster, with colleagues, or copying it between computers. The defence
against a deliberately edited record is therefore that reading it is harmless:
JSON only (never pickle), every metric checked against its declared type and
range, the config checked against the file's name. A forged but well-formed record
can still report wrong numbers, as a forged ``results.csv`` could; treat a cache
from someone you do not trust like their results table.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import socket
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import UnreadableFileError, atomic_write_text, read_regular, remove_stale_temporaries
from .config import DEFAULT_RUNNER, ExperimentConfig, canonical_json
from .metrics import metrics_problem

__all__ = [
    "SCHEMA_VERSION",
    "CacheError",
    "Cache",
    "cell_hash",
    "cache_dir",
    "cell_path",
    "load_result",
    "make_record",
]

#: Bumped whenever the meaning of a cached result changes (new metrics, a fix in
#: training or pruning, new random streams): every cell hash changes with it, so old
#: results are not reused. 2: the stable sampler draws its CPU uniforms from numpy streams.
#: 3: one Chambers-Mallows-Stuck core for every path (angles on the uniforms' grid midpoints).
#: 4: mnist_digits shuffles both parts of its split with the seed (they came sorted by class).
SCHEMA_VERSION = 4

#: The largest record the cache reads: a cell's neuron norms and history are a few MB at most.
MAX_RECORD_BYTES = 64 * 2**20

# Every record has these keys, with these types (checked on every read).
_RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "schema": int,
    "hash": str,
    "runner": str,
    "config": dict,
    "metrics": dict,
    "htsgd_version": str,
    "seconds": numbers.Real,
    "checksum": str,
}


class CacheError(OSError):
    """The cache folder cannot be used (not a folder, not writable); the message names the path.

    Introduced in the chapter *Compressibility experiments*.
    """


def cell_hash(config: ExperimentConfig | Mapping[str, Any], runner: str = DEFAULT_RUNNER) -> str:
    """SHA-256 (hex) of a cell's canonical JSON, the schema version and the runner.

    Stable across processes, machines and Python hash seeds: it depends only on the
    cell's values (``lr = 1`` and ``lr = 1.0`` give the same hash, since the config
    stores floats).

    >>> cell_hash(ExperimentConfig(lr=1)) == cell_hash({"lr": 1.0})
    True

    Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(config, ExperimentConfig):
        config = ExperimentConfig.from_dict(config)
    payload = {"schema": SCHEMA_VERSION, "runner": runner, "config": config.to_dict()}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """The cell cache folder: ``cache``, else ``$HTSGD_CACHE_DIR``, else ``~/.cache/htsgd/sweeps``.

    Introduced in the chapter *Compressibility experiments*.
    """
    if isinstance(cache, Cache):
        return cache.folder
    if cache is None:
        cache = os.environ.get("HTSGD_CACHE_DIR") or Path.home() / ".cache" / "htsgd" / "sweeps"
    return Path(cache).expanduser()


def _check_digest(digest: Any) -> str:
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValueError(f"digest must be a 64-character lowercase hex SHA-256, got {digest!r}")
    return digest


def cell_path(digest: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where the result of the cell with hash ``digest`` is stored.

    Introduced in the chapter *Compressibility experiments*.
    """
    return cache_dir(cache) / _check_digest(digest)[:2] / f"{digest}.json"


def _problem(record: Any, digest: str) -> str | None:
    """What is wrong with a parsed record (None if nothing)."""
    if not isinstance(record, dict):
        return f"a {type(record).__name__}, not a table"
    missing = [k for k in _RECORD_TYPES if k not in record]
    if missing:
        return f"missing keys {missing}"
    for key, kind in _RECORD_TYPES.items():
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            return f"{key} is a {type(record[key]).__name__}"
    if record["schema"] != SCHEMA_VERSION:
        return f"schema {record['schema']}, expected {SCHEMA_VERSION}"
    if record["hash"] != digest:
        return "stored hash differs from the file name"
    if not math.isfinite(record["seconds"]):
        return "seconds is not finite"
    problem = metrics_problem(record["metrics"], record["config"])
    if problem is not None:
        return problem
    try:
        if record["checksum"] != record_checksum(record):
            return "its checksum does not match its content (the file was edited)"
        recomputed = cell_hash(record["config"], record["runner"])
    except (TypeError, ValueError) as err:
        return f"invalid content ({err})"
    return "stored config does not match its hash" if recomputed != digest else None


def record_checksum(record: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON without its ``checksum`` (see the module notes)."""
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


class Cache:
    """A folder of finished cells: is a cell done, its record, storing a new one.

    Parameters
    ----------
    folder : path, optional
        The cache folder (:func:`cache_dir`: default ``$HTSGD_CACHE_DIR`` or
        ``~/.cache/htsgd/sweeps``).

    Examples
    --------
    >>> import tempfile
    >>> cache = Cache(tempfile.mkdtemp())
    >>> digest = cell_hash(ExperimentConfig())
    >>> digest in cache, cache.get(digest)
    (False, None)

    Notes
    -----
    Reads never raise for a damaged record: :meth:`get` warns (naming the file and
    the problem) and answers None, so the cell is recomputed and the record
    replaced. Introduced in the chapter *Compressibility experiments*.
    """

    def __init__(self, folder: str | os.PathLike[str] | Cache | None = None) -> None:
        self.folder = cache_dir(folder)

    def __repr__(self) -> str:
        return f"Cache({str(self.folder)!r})"

    def path(self, digest: str) -> Path:
        """The record file of cell ``digest`` (whether it exists or not)."""
        return cell_path(digest, self.folder)

    def _read(self, digest: str) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None), (None, None) when absent, or (None, what is wrong)."""
        path = self.path(digest)
        if not path.exists() and not path.is_symlink():
            return None, None
        if path.is_dir():
            return None, "a folder, not a file"
        try:
            raw = read_regular(path, limit=MAX_RECORD_BYTES, what="cache record")
        except UnreadableFileError as err:  # a FIFO, a device, over the limit
            return None, err.reason
        except OSError as err:
            return None, f"unreadable ({err.strerror or err.__class__.__name__})"
        try:
            record = json.loads(raw.decode("utf-8"))
            problem = _problem(record, digest)
        except RecursionError:
            return None, "nested too deeply"
        except (UnicodeDecodeError, ValueError) as err:
            return None, f"unreadable ({err.__class__.__name__})"
        return (None, problem) if problem is not None else (record, None)

    def get(self, digest: str) -> dict[str, Any] | None:
        """The record of cell ``digest``; None when absent or damaged (with a warning)."""
        record, problem = self._read(digest)
        if problem is not None:
            warnings.warn(
                f"corrupt cache file {self.path(digest)} ({problem}): the cell will be recomputed",
                stacklevel=2,
            )
        return record

    def __contains__(self, digest: object) -> bool:
        """Whether cell ``digest`` is done (an intact record exists)."""
        return isinstance(digest, str) and self._read(digest)[0] is not None

    def load(self, digest: str) -> dict[str, Any]:
        """The record of cell ``digest``.

        ``KeyError`` naming the cache if the cell is not done; ``ValueError`` naming
        the file and the problem if its record is damaged (wrong schema or types).
        """
        record, problem = self._read(digest)
        if problem is not None:
            raise ValueError(f"the cached record {self.path(digest)} is damaged: {problem}")
        if record is None:
            raise KeyError(f"no cached result for cell {digest} in {self.folder}")
        return record

    def prepare(self) -> None:
        """Make sure records can be written here, and remove temporary files left by kills.

        Raises :class:`CacheError` naming the path when the folder is a file or
        cannot be written, so a sweep fails before it computes anything.
        """
        folder = self.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise CacheError(f"the sweep cache {folder} is not a folder ({err.strerror})") from err
        except OSError as err:
            raise CacheError(
                f"the sweep cache {folder} cannot be created ({err.strerror})"
            ) from err
        if not folder.is_dir():
            raise CacheError(f"the sweep cache {folder} is not a folder")
        probe = folder / f".probe.{socket.gethostname()}.{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise CacheError(f"the sweep cache {folder} is not writable ({err.strerror})") from err
        remove_stale_temporaries(folder, depth=1)

    def put(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store a record (atomically); a folder squatting on its path is removed first."""
        record = dict(record)
        digest = _check_digest(record.get("hash"))
        path = self.path(digest)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        atomic_write_text(path, json.dumps(record, allow_nan=False) + "\n")
        return record


def make_record(
    config: ExperimentConfig,
    digest: str,
    metrics: Mapping[str, Any],
    *,
    runner: str,
    seconds: float,
    host: str | None = None,
) -> dict[str, Any]:
    """The record stored for a finished cell: its config, metrics, provenance and checksum.

    Raises ``ValueError`` if the metrics break their declared types or ranges
    (:mod:`htsgd.sweep.metrics`): a runner's bug fails its cell rather than being
    cached and recomputed on every read.

    Introduced in the chapter *Compressibility experiments*.
    """
    from .. import __version__

    problem = metrics_problem(metrics, config.to_dict())
    if problem is not None:
        raise ValueError(f"runner {runner!r} returned invalid metrics: {problem}")
    record = {
        "schema": SCHEMA_VERSION,
        "hash": digest,
        "runner": runner,
        "config": config.to_dict(),
        "metrics": dict(metrics),
        "seconds": float(seconds),
        "host": host,
        "htsgd_version": __version__,
        "python": sys.version.split()[0],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record["checksum"] = record_checksum(record)
    return record


def load_result(digest: str, cache: str | os.PathLike[str] | Cache | None = None) -> dict[str, Any]:
    """The full cached record of one cell (config, metrics, neuron norms, history).

    ``digest`` is the ``hash`` column of :func:`htsgd.sweep.run_sweep`'s table.
    Introduced in the chapter *Compressibility experiments*.

    Raises
    ------
    KeyError
        If the cell is not cached.
    ValueError
        If ``digest`` is not a SHA-256 in hex, or the record is damaged (the
        message names the file and the problem).
    """
    return Cache(cache).load(digest)
