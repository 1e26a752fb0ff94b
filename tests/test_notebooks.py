"""The Colab/Binder notebooks beside the chapters are present, in sync, and install htsgd on Colab."""

from __future__ import annotations

import importlib.util
import subprocess

import nbformat
import yaml
from conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)


def test_every_chapter_has_a_notebook_in_sync():
    url = sync.repository_url()
    chapters = sync.chapters()
    assert chapters
    for chapter in chapters:
        target = chapter.with_suffix(".ipynb")
        assert target.is_file(), f"{target.name} is missing: run `make notebooks`"
        assert target.read_text() == sync.notebook_text(chapter, url), (
            f"{target.name} is stale: run `make notebooks`"
        )


def test_notebooks_install_htsgd_on_colab_only():
    url = sync.repository_url()
    for chapter in sync.chapters():
        nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "code"
        assert sync.COLAB_TAG in first.metadata["tags"]
        assert 'if "google.colab" in sys.modules:' in first.source
        assert f"git+{url}" in first.source
        # The rest of the notebook is the chapter, unchanged.
        assert all(sync.COLAB_TAG not in c.metadata.get("tags", []) for c in nb.cells[1:])
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_notebooks_are_excluded_from_the_book_build():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "**/*.ipynb" in config["exclude_patterns"]
    assert config["only_build_toc_files"] is True


def test_repository_url_lives_in_one_place():
    url = sync.repository_url()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    holders = [
        f
        for f in tracked
        if not f.endswith(".ipynb")  # generated from _config.yml
        and (ROOT / f).is_file()
        and url in (ROOT / f).read_text(errors="ignore")
    ]
    assert holders == ["_config.yml"], holders


def test_binder_installs_a_cpu_torch_and_the_package():
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert "torch==" in requirements and "+cpu" in requirements
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post_build and "-e ." in post_build
    assert (BOOK / "intro.md").is_file()
