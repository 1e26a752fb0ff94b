"""What autograding costs an instructor: nbgrader autograde of one student's submission, chapter by chapter.

    python benchmarks/bench_autograde.py [book/stable.md ...] [--seed 2026]

For each chapter named (default: every chapter with exercises) the script does what the exercise index page
tells an instructor to do, in a temporary folder: ``make student`` (``scripts/make_student.py``, graded variants
drawn from ``--seed``), ``nbgrader quickstart``, the kit's configuration appended, the instructor notebook as
``source/<chapter>/``, ``nbgrader generate_assignment``; then one submission, the instructor notebook itself
(every exercise solved as the book solves it), is autograded with ``nbgrader autograde <chapter> --create``.
The autograde call is timed: wall clock and CPU (user + system of nbgrader and everything it started: the
kernel, sweep workers), and its score is read back with ``nbgrader export``: a solved copy must get every
autograded point, at the course's graded parameters.

Writes ``autograde.json`` to ``$HTSGD_BENCH_DIR`` (default ``benchmarks/results``) with the machine, its load
average before and after, and the date; the exercise index page (``book/exercises.md``) reads it.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _nbgrader(cwd: Path, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} exit {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _autograded_points(notebook: Path) -> int:
    """The points of the notebook's hidden graded tests (autograded cells that are not answers)."""
    nb = nbformat.read(notebook, as_version=4)
    return sum(int(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))


def measure(chapters: list[Path], seed: int, workdir: Path, save=lambda record: None) -> dict:
    """Autograde one solved submission of each chapter in ``workdir``; return the per-chapter record, passing it
    to ``save`` after each chapter (a long run keeps what it measured)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_student

    kit = workdir / "kit"
    make_student.write_kit(chapters, kit, grading_seed=seed)
    _nbgrader(workdir, "quickstart", "course")
    course = workdir / "course"
    with (course / "nbgrader_config.py").open("a") as f:
        f.write("\n" + (kit / "instructor" / "nbgrader_config.py").read_text())
    record = {}
    for chapter in chapters:
        name = chapter.stem
        source = kit / "instructor" / f"{name}.ipynb"
        (course / "source" / name).mkdir(parents=True)
        shutil.copy(source, course / "source" / name / f"{name}.ipynb")
        _nbgrader(course, "generate_assignment", name, "--force")
        (course / "submitted" / "solved" / name).mkdir(parents=True)
        shutil.copy(source, course / "submitted" / "solved" / name / f"{name}.ipynb")
        wall, cpu = time.perf_counter(), _children_cpu()
        _nbgrader(course, "autograde", name, "--create", "--force")
        wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
        _nbgrader(course, "export", "--to", str(workdir / "grades.csv"))
        rows = [r for r in csv.DictReader((workdir / "grades.csv").open()) if r["assignment"] == name]
        record[name] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "autograded_points": _autograded_points(source),
                        "score": float(rows[0]["raw_score"]), "max_score": float(rows[0]["max_score"])}
        print(f"{name}: autograde {wall:.0f} s wall, {cpu:.0f} s CPU; score {record[name]['score']:g} of "
              f"{record[name]['autograded_points']} autograded points", flush=True)
        save(record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path, help="book/<chapter>.md (default: all with exercises)")
    parser.add_argument("--seed", type=int, default=2026, help="the course seed of the graded variants")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_student

    chapters = [p.resolve() for p in args.chapters] or make_student.chapters_with_exercises()
    load_before = os.getloadavg()
    out = Path(os.environ.get("HTSGD_BENCH_DIR", ROOT / "benchmarks" / "results")) / "autograde.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(record: dict) -> None:
        out.write_text(json.dumps({
            "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                        "python": platform.python_version()},
            "load_average_before": [round(x, 1) for x in load_before],
            "load_average_after": [round(x, 1) for x in os.getloadavg()],
            "seed": args.seed,
            "submission": "one solved copy per chapter (the instructor notebook), autograded alone",
            "chapters": record,
        }, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="htsgd-autograde-") as tmp:
        os.environ.setdefault("HTSGD_CACHE_DIR", str(Path(tmp) / "cache"))
        chapters_record = measure(chapters, args.seed, Path(tmp), save)
    print(f"wrote {out}")
    return 0 if all(r["score"] == r["autograded_points"] for r in chapters_record.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
