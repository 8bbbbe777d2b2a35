"""Test-only access to reference implementations (Meta's ``segment-anything``).

The oracle packages are installed with ``--no-deps``: their package ``__init__`` imports
torchvision (for PIL resizing and NMS), which is not installed and must never be. The modeling
code we compare against does not use it, so while importing we put a tiny stand-in
``torchvision`` in ``sys.modules`` whose functions fail loudly if anything calls them, and take
it out again afterwards so no other test can see it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

# What segment_anything imports from torchvision: utils/transforms.py (resize, to_pil_image)
# and automatic_mask_generator.py (batched_nms, box_area).
SEGMENT_ANYTHING_TORCHVISION_NAMES: Mapping[str, tuple[str, ...]] = {
    "torchvision.transforms.functional": ("resize", "to_pil_image"),
    "torchvision.ops.boxes": ("batched_nms", "box_area"),
}


def _refuse(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the torchvision stand-in's {name} was called by an oracle")

    return call


@contextlib.contextmanager
def stand_in_modules(names: Mapping[str, tuple[str, ...]]) -> Iterator[None]:
    """Temporarily register stand-in modules (and their parents) exposing refusing functions.

    Modules that really exist are left alone.
    """
    added: list[str] = []
    for dotted, attrs in names.items():
        parts = dotted.split(".")
        for depth in range(1, len(parts) + 1):
            mod_name = ".".join(parts[:depth])
            if mod_name not in sys.modules:
                if depth == 1 and importlib.util.find_spec(mod_name) is not None:
                    break  # the real package exists: use it
                sys.modules[mod_name] = types.ModuleType(mod_name)
                added.append(mod_name)
                if depth > 1:
                    setattr(
                        sys.modules[".".join(parts[: depth - 1])],
                        parts[depth - 1],
                        sys.modules[mod_name],
                    )
        module = sys.modules.get(dotted)
        if module is not None and dotted in added:
            for attr in attrs:
                setattr(module, attr, _refuse(f"{dotted}.{attr}"))
    try:
        yield
    finally:
        for mod_name in reversed(added):
            sys.modules.pop(mod_name, None)


def import_segment_anything() -> types.ModuleType:
    """Import Meta's ``segment_anything`` package (skips the test when it is not installed)."""
    if importlib.util.find_spec("segment_anything") is None:
        pytest.skip("the segment-anything oracle is not installed (pip install --no-deps)")
    with stand_in_modules(SEGMENT_ANYTHING_TORCHVISION_NAMES):
        return importlib.import_module("segment_anything")
