"""A newcomer's machine: the book builds without npm (CDN copies of the same releases), and
`make test` checks what the browser tests need before anything slow runs."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess

import yaml

from conftest import ROOT

spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
build_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_book)


def test_without_npm_every_offline_script_comes_from_the_cdn_at_the_vendored_release():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    offline = [p for p in config["sphinx"]["config"]["nb_ipywidgets_js"] if p.startswith("offline/")]
    assert offline, "the configuration no longer serves scripts from offline/: update this test"
    sphinx = build_book.use_cdn(config)["sphinx"]["config"]
    scripts = [sphinx["mathjax_path"], *sphinx["nb_ipywidgets_js"]]
    assert not [s for s in scripts if s.startswith("offline/")]
    cdn = [s for s in scripts if s.startswith(build_book.CDN)]
    assert len(cdn) == len(offline) + 1  # every offline script, and MathJax
    # The CDN copies are the releases scripts/vendor_js.sh fetches.
    vendored = dict(re.findall(r"^([A-Z_]+)=(\S+)$", (ROOT / "scripts" / "vendor_js.sh").read_text(), re.M))
    for release in vendored.values():
        assert any(release in s for s in cdn), release
    for attributes in sphinx["nb_ipywidgets_js"].values():
        assert not any(k.startswith("data-jupyter-widgets-cdn") for k in attributes or {})


def test_make_without_npm_does_not_stop_at_the_offline_scripts():
    dry = subprocess.run(
        ["make", "-n", "-B", "book/_static/offline/.complete"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "command -v npm" in dry and "vendor_js.sh" in dry


def test_make_test_checks_the_browser_prerequisites_first():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    assert lines[0].endswith("scripts/test_prereqs.sh $(VENV)")


def _machine(tmp_path, tools):
    """A PATH with the basic tools, a non-root `id`, and only the given extra commands."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ls", "sort", "tail", "mkdir", "ln", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        if not f.is_symlink():
            f.chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}


def test_make_test_without_chromium_fails_at_once_naming_the_command(tmp_path):
    env = _machine(tmp_path, tools=["npm"])
    run = subprocess.run(
        [shutil.which("bash"), str(ROOT / "scripts" / "test_prereqs.sh"), str(tmp_path / "venv")],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt-get install chromium" in lines[0], run.stderr


def test_make_test_uses_playwrights_own_chromium_when_present(tmp_path):
    env = _machine(tmp_path, tools=["npm"])
    chrome = tmp_path / "home" / ".cache" / "ms-playwright" / "chromium-1187" / "chrome-linux" / "chrome"
    chrome.parent.mkdir(parents=True)
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    run = subprocess.run(
        [shutil.which("bash"), str(ROOT / "scripts" / "test_prereqs.sh"), str(tmp_path / "venv")],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "venv" / "bin" / "chromium").resolve() == chrome
