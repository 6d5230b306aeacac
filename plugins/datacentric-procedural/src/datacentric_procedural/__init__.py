"""datacentric-procedural: procedural surface defects for datacentric.

The transforms (:class:`Scratch`, :class:`Pit`, :class:`Dent`,
:class:`Discoloration`) are ordinary albumentations ``ImageOnlyTransform``s.
The ``procedural`` generator is registered with datacentric through the
``datacentric.generators`` entry point, whose target is this module's
:func:`register_generators` hook. Importing this package does not import the
generator (and with it datacentric) until the hook runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datacentric_procedural.transforms import Dent, Discoloration, Pit, Scratch

__all__ = ["Dent", "Discoloration", "Pit", "Scratch", "register_generators"]
__version__ = "0.1.0"


def register_generators(register: Callable[..., Any]) -> None:
    """datacentric plugin hook: add the ``procedural`` generator."""
    from datacentric_procedural.generator import ProceduralGenerator

    register(ProceduralGenerator)
