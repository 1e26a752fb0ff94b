"""Shared fixtures: the repository root, and CUDA device parametrization."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Every device test runs on the CPU, and on CUDA when a GPU is present."""
    return request.param
