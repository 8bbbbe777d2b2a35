"""Test-only access to Meta's ``sam2`` package (installed with ``--no-deps``).

The modeling code and the video predictor import neither torchvision nor the compiled extension
at import time; the package ``__init__`` only registers its Hydra config module.
"""

from __future__ import annotations

import importlib
import importlib.util
import types
import warnings

import pytest


def import_sam2(module: str = "sam2") -> types.ModuleType:
    """Import ``module`` from Meta's ``sam2`` package (skips the test when it is not installed)."""
    if importlib.util.find_spec("sam2") is None:
        pytest.skip("the sam2 oracle is not installed (pip install --no-deps sam2)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hydra's deprecation chatter at import
        importlib.import_module("sam2")
        return importlib.import_module(module)
