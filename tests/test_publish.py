"""Publishing is one step (issue 21 §1, §7): the workflows, the built package, its install line, its citation.

What runs offline here: the workflows are linted (actionlint when it is on PATH; otherwise validated against
the GitHub workflow schema that check-jsonschema ships, offline) and checked for what publishing needs; the
sdist and the wheel are built as the release workflow builds them and pass ``twine check``; the wheel
carries every file of ``htsgd/`` (the sweep configs, the committed chaos runs) and every module a notebook
imports is importable from a fresh environment that installed only that wheel (the session's
``plain_venv``); and a released assignment runs from a copy of that environment with ``htsgd`` removed, so
that its own install cell installs it, from the wheel, through pip's settings (``PIP_NO_INDEX``,
``PIP_FIND_LINKS``), as it would from PyPI on Colab. What cannot run offline: the workflows themselves
(GitHub's runners, Pages, PyPI's trusted publishing) and an install from PyPI.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml
from plain_env import pip_env, write_kernel

import htsgd
from conftest import BOOK, ROOT, load_script

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def _workflow(name: str) -> dict:
    flow = yaml.safe_load((WORKFLOWS / name).read_text())
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as true
    return flow


def _steps(flow: dict) -> list[dict]:
    return [step for job in flow["jobs"].values() for step in job.get("steps", [])]


def _uses(flow: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in _steps(flow) if "uses" in step]


def _runs(flow: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(flow))


def test_workflows_lint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"book.yml", "release.yml", "ci.yml", "oldest.yml"}
    actionlint = shutil.which("actionlint")
    if actionlint:
        command = [actionlint, *map(str, files)]
    else:  # actionlint is a Go binary that does not install offline; the schema GitHub's own editor uses
        command = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_publish_the_book_and_the_package_without_a_secret():
    book = _workflow("book.yml")
    assert book["on"]["push"]["branches"] == ["main"]
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= set(_uses(book))
    upload = next(s for s in _steps(book) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html" and "make book" in _runs(book)
    assert book["permissions"]["pages"] == "write" and book["permissions"]["id-token"] == "write"

    release = _workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert "python -m build" in _runs(release) and "twine check" in _runs(release)
    publish = release["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing (OIDC)
    step = next(s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish"))
    assert not step.get("with", {}).get("password")
    for path in WORKFLOWS.glob("*.yml"):
        assert "secrets." not in path.read_text(), f"{path.name} uses a secret"

    ci = _workflow("ci.yml")
    assert ci["on"]["push"]["branches"] == ["main"] and "pull_request" in ci["on"]
    assert "bash .ci/run" in _runs(ci)


def test_the_scheduled_job_tests_the_oldest_declared_versions():
    oldest = _workflow("oldest.yml")
    assert oldest["on"]["schedule"]
    pins = load_script_at(ROOT / ".ci" / "oldest_constraints.py")
    project = pins.tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = next(s for s in _steps(oldest) if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == pins.oldest_python(project) == "3.10"
    lines = pins.constraints(project)
    assert len(lines) == len(project["dependencies"])
    torch_bound = next(d for d in project["dependencies"] if d.startswith("torch"))
    assert f"torch=={torch_bound.split('>=')[1]}.*" in lines
    assert "oldest_constraints.py" in _runs(oldest) and "-c oldest-constraints.txt" in _runs(oldest)
    with pytest.raises(ValueError, match="'scipy' has no '>=' lower bound"):
        pins.constraints({"dependencies": ["scipy"]})


def load_script_at(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_citation_file_is_valid_cff_and_names_the_version_and_the_paper():
    """CITATION.cff against the Citation File Format 1.2.0 schema (tests/data, copied from
    citation-file-format/citation-file-format, commit 0c5b4aa; cffconvert itself does not install beside
    jupyter's jsonschema 4)."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    schema = json.loads((ROOT / "tests" / "data" / "cff-1.2.0-schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(cff, default=str)), schema)
    assert cff["cff-version"] == "1.2.0" and str(cff["version"]) == htsgd.__version__
    paper = cff["preferred-citation"]
    assert paper["title"].startswith("Implicit Compressibility of Overparametrized Neural Networks")
    assert [a["family-names"] for a in paper["authors"]] == ["Wan", "Barsbey", "Zaidi", "Simsekli"]
    assert paper["year"] == 2024 and cff["references"][0]["title"] == paper["title"]


def test_the_changelog_is_in_the_book_and_names_this_version():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    back = next(p for p in toc["parts"] if p["caption"] == "Back matter")
    assert "book/changelog" in [c["file"] for c in back["chapters"]]
    text = (BOOK / "changelog.md").read_text()
    assert text.startswith("(changelog)=\n# What changed")
    versions = re.findall(r"^## (\S+)", text, flags=re.M)
    assert versions[0] == htsgd.__version__, "the newest entry of book/changelog.md is not htsgd.__version__"


# ----------------------------------------------------------------------------- the built package


def _tracked_package_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "htsgd"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line]


def _notebook_imports() -> set[str]:
    """Top-level modules the generated notebooks import (magics and shell lines left out)."""
    names: set[str] = set()
    for path in sorted(BOOK.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(x for x in cell.source.splitlines() if not x.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    names |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module)
    return names


@pytest.mark.slow
def test_the_sdist_and_the_wheel_pass_twine_and_carry_the_package_data(dist):
    print(f"python -m build: {dist['seconds']:.1f} s", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(dist["wheel"]), str(dist["sdist"])],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert dist["wheel"].name == f"htsgd-{htsgd.__version__}-py3-none-any.whl"
    tracked = [f for f in _tracked_package_files() if "__pycache__" not in f]
    assert any(f.startswith("htsgd/configs/") and f.endswith(".toml") for f in tracked)
    assert any(f.startswith("htsgd/runs/chaos-widths/") for f in tracked)
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        missing = sorted(set(tracked) - names)
        assert not missing, f"the wheel lacks {missing}"
        metadata = wheel.read(f"htsgd-{htsgd.__version__}.dist-info/METADATA").decode()
    assert "Provides-Extra: notebook" in metadata and f"Version: {htsgd.__version__}" in metadata
    with tarfile.open(dist["sdist"]) as sdist:
        prefix = f"htsgd-{htsgd.__version__}/"
        names = {n.removeprefix(prefix) for n in sdist.getnames()}
    missing = sorted((set(tracked) | {"pyproject.toml", "README.md", "LICENSE"}) - names)
    assert not missing, f"the sdist lacks {missing}"


@pytest.mark.slow
def test_every_module_a_notebook_imports_comes_with_the_wheel(plain_venv):
    """Imported in the fresh environment that installed only ``htsgd[notebook]`` from the wheel."""
    modules = sorted(_notebook_imports())
    assert "htsgd" in modules and "ipywidgets" in modules
    probe = ("import importlib, json, sys\n"
             "bad = {}\n"
             f"for name in {modules!r}:\n"
             "    try:\n        importlib.import_module(name)\n"
             "    except Exception as error:\n        bad[name] = repr(error)\n"
             "print(json.dumps(bad))")
    done = subprocess.run([str(plain_venv["python"]), "-c", probe], capture_output=True, text=True,
                          cwd=plain_venv["work"], env=pip_env(MPLBACKEND="agg"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


ASSIGNMENT_KERNEL = "htsgd-released-assignment"  # tests/test_executions.py counts its one execution


def _installed_htsgd(python: Path) -> str | None:
    done = subprocess.run([str(python), "-m", "pip", "show", "-f", "htsgd"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


@pytest.mark.slow
def test_a_released_assignment_installs_htsgd_with_its_own_first_cell(plain_venv, dist, tmp_path, monkeypatch):
    """The student's notebook of chapter 1 (``make student``), in a kernel of the fresh environment with htsgd
    removed: its first cell installs ``htsgd[notebook]==<version>`` from the wheel (pip reads
    ``PIP_NO_INDEX``/``PIP_FIND_LINKS`` from the kernel's environment, as it would read PyPI's address), and
    then every cell of the chapter runs; only the scaffolds a student fills in (and their self-checks) fail."""
    import execution_log
    import nbclient_polling
    from nbclient import NotebookClient

    kit = load_script("make_student")
    (student,) = [p for p in kit.write_kit([BOOK / "stable.md"], tmp_path) if p.parent.name == "student"]
    nb = nbformat.read(student, as_version=4)
    assert nb.metadata["htsgd"]["version"] == htsgd.__version__
    assert f'%pip install --quiet "htsgd[notebook]=={htsgd.__version__}"' in nb.cells[0].source
    assert f"# Made with htsgd {htsgd.__version__}" in (tmp_path / "instructor" / "nbgrader_config.py").read_text()

    # The session's environment, copied (hard links: seconds, no space), so that removing htsgd here cannot reach
    # the plain-install test, which may be running in another process with the same environment.
    work = tmp_path / "env"
    subprocess.run(["cp", "-al", str(plain_venv["python"].parents[1]), str(work)], check=True)
    python = work / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "-y", "htsgd"], check=True, env=pip_env())
    assert _installed_htsgd(python) is None
    env = {"HTSGD_CACHE_DIR": str(tmp_path / "cache"), "MPLBACKEND": "agg", "PYTHONPATH": "",
           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(dist["wheel"].parent), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    write_kernel(tmp_path / "jupyter", ASSIGNMENT_KERNEL, [str(python), "-m", "ipykernel_launcher"], env)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    nbclient_polling.install()
    execution_log.event("released-assignment", chapter="stable.md")
    NotebookClient(nb, timeout=600, kernel_name=ASSIGNMENT_KERNEL, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = _installed_htsgd(python)
    assert shown is not None and f"Version: {htsgd.__version__}" in shown
    assert str(work) in shown and "htsgd/runs/chaos-widths" in shown  # from the wheel, with its data
    errors = {}
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[i] = (cell.metadata.get("nbgrader", {}), output["ename"])
    assert 0 not in errors, errors.get(0)
    # A blank copy: the scaffolds raise, and so does each self-check, on the `answer = ...` they were left with.
    unexpected = {i: e for i, e in errors.items()
                  if not (e[0].get("solution") or e[0].get("grade") or e[0].get("grade_id", "").endswith("-check"))}
    assert not unexpected, f"chapter cells failed from the installed wheel: {unexpected}"
    stubs = sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    assert sum(1 for meta, name in errors.values() if meta.get("solution") and name == "NotImplementedError") == stubs
