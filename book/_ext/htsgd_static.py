"""The static page's explorers: tell the kernels the build starts that they run for a static page.

``htsgd.widgets.explorer`` adds a visible "static page" note and precomputed slider frames
only when ``HTSGD_STATIC_FRAMES=1`` (a reader's live kernel has neither). The book build's
kernels are started by this process, so setting the variable here, when Sphinx loads the
extension, reaches every chapter the build executes and nothing else.
"""

from __future__ import annotations

import os
from typing import Any

from htsgd.widgets import STATIC_ENV


def setup(app) -> dict[str, Any]:
    os.environ[STATIC_ENV] = "1"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
