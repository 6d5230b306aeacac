"""The project's settings file, ``datacentric.toml``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from datacentric.errors import DatacentricError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["CONFIG_NAME", "DEFAULT_BACKBONE", "ProjectConfig"]

CONFIG_NAME = "datacentric.toml"
DEFAULT_BACKBONE = "tf_efficientnet_lite0"


@dataclass
class ProjectConfig:
    """Settings that every command of a project shares."""

    classes: list[str] = field(default_factory=list)  # fixed class list; empty = learn from imports
    backbone: str = DEFAULT_BACKBONE  # timm model name used for embeddings and fine-tuning
    image_size: int = 0  # input size in pixels; 0 = the backbone's own default
    seed: int = 0  # seed for every random choice (folds, augmentation, sampling)
    folds: int = 5  # cross-validation folds

    @classmethod
    def load(cls, path: Path) -> "ProjectConfig":
        """Read a ``datacentric.toml``; unknown keys are an error (typos must not pass silently)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatacentricError("not a datacentric project (no datacentric.toml)", path.parent) from None
        except tomllib.TOMLDecodeError as exc:
            raise DatacentricError(f"invalid settings file: {exc}", path) from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DatacentricError(f"unknown setting(s) {', '.join(unknown)}", path)
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write the settings as TOML, atomically."""
        lines = ["# datacentric project settings"]
        for key, value in asdict(self).items():
            lines.append(f"{key} = {json.dumps(value)}")
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
