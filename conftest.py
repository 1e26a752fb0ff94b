"""Names every docstring example of htsgd may use without importing them (pytest --doctest-modules)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import htsgd


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update(htsgd=htsgd, hs=htsgd, torch=torch, np=np)
