"""Pins for the oldest versions pyproject.toml declares (.github/workflows/oldest.yml).

    python .ci/oldest_constraints.py            # pip constraints: one `name==X.*` per `name>=X` dependency
    python .ci/oldest_constraints.py --python   # the oldest Python, from requires-python (">=3.10" -> 3.10)

Only ``project.dependencies`` (the core) are pinned; the extras and the test tools come from
requirements.txt. A dependency without a ``>=`` bound is an error: the job tests what is declared.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
BOUND = re.compile(r"^(?P<name>[A-Za-z0-9_.\-\[\]]+?)\s*>=\s*(?P<version>[0-9][0-9.]*)\s*(?:;\s*(?P<marker>.+))?$")


def constraints(project: dict) -> list[str]:
    """``name==X.*`` (with the dependency's environment marker) for every ``name>=X`` dependency."""
    lines = []
    for requirement in project["dependencies"]:
        m = BOUND.match(requirement.strip())
        if m is None:
            raise ValueError(f"pyproject.toml: dependency {requirement!r} has no '>=' lower bound")
        name = re.sub(r"\[.*\]", "", m.group("name"))
        marker = f"; {m.group('marker')}" if m.group("marker") else ""
        lines.append(f"{name}=={m.group('version')}.*{marker}")
    return lines


def oldest_python(project: dict) -> str:
    m = re.fullmatch(r">=\s*(3\.\d+)", project["requires-python"].strip())
    if m is None:
        raise ValueError(f"requires-python {project['requires-python']!r} is not of the form '>=3.N'")
    return m.group(1)


def main(argv: list[str]) -> int:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    print(oldest_python(project) if "--python" in argv else "\n".join(constraints(project)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
