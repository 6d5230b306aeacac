"""Built-in demo data: photos of machined and moulded parts with defects.

:func:`generate_demo` writes a labelled data set the way a factory would hand it
over (a folder per class from one annotator, a CSV with two more annotators'
labels and line/camera/shift metadata) plus a ground-truth file to score tools
against; :func:`generate_batch` writes unlabelled production batches, as-is or
shifted (lighting, blur, a new camera, a defect-rate rise, an unseen defect) for
drift checks. Both are deterministic for a seed.

>>> from datacentric.demo import generate_demo
>>> demo = generate_demo("demo-data", per_class=50, seed=0)   # doctest: +SKIP
>>> demo.n_images, len(demo.wrong_files)                       # doctest: +SKIP
(250, 15)
"""

from __future__ import annotations

from datacentric.demo.annotators import ANNOTATORS
from datacentric.demo.generate import SHIFTS, DemoData, generate_batch, generate_demo
from datacentric.demo.scene import CLASSES, UNSEEN

__all__ = [
    "ANNOTATORS",
    "CLASSES",
    "SHIFTS",
    "UNSEEN",
    "DemoData",
    "generate_batch",
    "generate_demo",
]
