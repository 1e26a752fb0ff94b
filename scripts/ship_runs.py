"""Copy the committed results of the frontier sweeps into the package, so a plain install reads them.

    python scripts/ship_runs.py                 # every sweep of htsgd.frontier.SWEEPS with results
    python scripts/ship_runs.py digits-frontier

Writes ``htsgd/runs/<sweep>/results.csv.gz`` (gzip with no timestamp, so the same results give the
same bytes) and ``provenance.json`` beside it, atomically. ``tests/test_frontier.py`` checks that
the shipped copy equals ``results/<sweep>/results.csv``: rerun this after recomputing a sweep.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from htsgd._io import atomic_write_bytes  # noqa: E402
from htsgd.frontier import SWEEPS  # noqa: E402


def ship(name: str) -> Path | None:
    src = ROOT / "results" / name
    if not (src / "results.csv").is_file():
        return None
    dst = ROOT / "htsgd" / "runs" / name
    dst.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dst / "results.csv.gz", gzip.compress((src / "results.csv").read_bytes(), mtime=0))
    if (src / "provenance.json").is_file():
        atomic_write_bytes(dst / "provenance.json", (src / "provenance.json").read_bytes())
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="*", default=list(SWEEPS))
    for name in parser.parse_args().sweeps:
        where = ship(name)
        print(f"{name}: " + (f"shipped to {where.relative_to(ROOT)}" if where else "no results/<name>/results.csv"))


if __name__ == "__main__":
    main()
