"""Two more students' submissions for an nbgrader course, put in before ``nbgrader autograde`` runs.

tests/test_readme.py follows the README's instructor steps, which submit the released copy untouched
(``student1``, scoring 0); just before the README's ``nbgrader autograde`` it runs::

    python tests/submissions.py ch1 stable.ipynb

inside the course folder, which adds

- ``alice``: the instructor's source notebook, every solution in place (full autograded marks);
- ``carol``: the released notebook with every exercise's stub replaced by a gaming answer (:func:`gaming_copy`,
  no marks).

The same autograde then grades all three, so the chapter executes under nbgrader three times in a session, the
execution count's one exception (tests/execution_count.py).
"""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import nbformat

from htsgd import exercises as ex

STUDENTS = ("alice", "carol")


def gaming_copy(released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with every exercise's stub replaced by a gaming answer: the practice reference (what
    a scan of the self-check finds) as ``answer``, and a ``solve`` that asks the package's registry for the
    reference at the parameters it is given, falling back to the practice answer."""
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.endswith("-code") and grade_id.removesuffix("-code") in ex.REFERENCES:
            label = grade_id.removesuffix("-code")
            cell.source = (f"answer = {ex._practice_value(label)!r}\n\n\ndef solve(**params):\n    try:\n"
                           f"        return hs.exercises.REFERENCES[{label!r}].compute(**params)\n"
                           f"    except Exception:\n        return answer\n")
    return nb


def submit(course: Path, assignment: str, notebook: str) -> None:
    """Write ``alice``'s and ``carol``'s submissions of ``assignment`` into ``course/submitted``."""
    released = nbformat.read(course / "release" / assignment / notebook, as_version=4)
    for student in STUDENTS:
        (course / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
    shutil.copy(course / "source" / assignment / notebook, course / "submitted" / "alice" / assignment / notebook)
    nbformat.write(gaming_copy(released), course / "submitted" / "carol" / assignment / notebook)


if __name__ == "__main__":
    submit(Path.cwd(), sys.argv[1], sys.argv[2])
