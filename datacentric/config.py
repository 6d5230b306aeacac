"""The project's settings file, ``datacentric.toml``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from datacentric.errors import DatacentricError
from datacentric.names import clean_class_list
from datacentric.paths import write_atomic

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
        except UnicodeDecodeError:
            raise DatacentricError("invalid settings file: not UTF-8 text", path) from None
        except tomllib.TOMLDecodeError as exc:
            raise DatacentricError(f"invalid settings file: {exc}", path) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DatacentricError(f"cannot read settings file: {reason}", path) from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: dict, where: object | None = None) -> ProjectConfig:
        """Validate settings read from TOML: every key known, every value of its type and range."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DatacentricError(f"unknown setting(s) {', '.join(unknown)}", where)
        if "classes" not in data:
            # an empty or cut-short file must not silently drop a fixed class list
            raise DatacentricError(
                "setting 'classes' is missing (write classes = [] to learn classes from imports)",
                where,
            )
        return cls(
            classes=_class_list(data["classes"], where),
            backbone=_backbone(data.get("backbone", DEFAULT_BACKBONE), where),
            image_size=_integer(data, "image_size", 0, least=0, where=where),
            seed=_integer(data, "seed", 0, least=0, where=where),
            folds=_integer(data, "folds", 5, least=2, where=where),
        )

    def save(self, path: Path) -> None:
        """Write the settings as TOML, atomically."""
        lines = ["# datacentric project settings"]
        for key, value in asdict(self).items():
            lines.append(f"{key} = {json.dumps(value)}")
        write_atomic(path, "\n".join(lines) + "\n")


def _class_list(value: object, where: object | None) -> list[str]:
    if not isinstance(value, list):
        raise DatacentricError(f"setting 'classes' must be a list of names, not {_shown(value)}", where)
    try:
        return clean_class_list(value)
    except DatacentricError as exc:
        raise DatacentricError(f"setting 'classes': {exc.what}", where) from None


def _backbone(value: object, where: object | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DatacentricError(f"setting 'backbone' must be a timm model name, not {_shown(value)}", where)
    return value.strip()


def _integer(data: dict, key: str, default: int, *, least: int, where: object | None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise DatacentricError(f"setting '{key}' must be an integer >= {least}, not {_shown(value)}", where)
    return value


def _shown(value: object) -> str:
    text = json.dumps(value, default=str, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."
