"""Tiny projects on the random tiny backbone, for tests that need a project with images."""

from __future__ import annotations

from pathlib import Path

from tests.support.images import TINY


def tiny_colour_project(root: Path, photos: Path):
    """A project at ``root`` on the tiny random backbone (32 px, 3 folds) with ``photos`` imported by mira."""
    from datacentric.importers import import_path
    from datacentric.project import Project

    proj = Project.init(root, backbone=TINY, seed=0)
    proj.config.image_size = 32
    proj.config.folds = 3
    proj.save_config()
    import_path(proj, photos, annotator="mira")
    return proj
