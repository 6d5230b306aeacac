"""Property tests (hypothesis): whatever a CSV manifest or a settings file holds, the
CSV importer and the config loader either succeed or raise DatacentricError, and a
refused import leaves the store byte-identical."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from datacentric.config import CONFIG_NAME, ProjectConfig
from datacentric.errors import DatacentricError
from datacentric.data.importers import import_csv
from datacentric.names import clean_class_name
from datacentric.project import Project
from tests.support.factories import write_image
from tests.support.cli import promise
from tests.support.files import store_digest

# 60 examples keep the suite quick on 2 cores; DATACENTRIC_EXAMPLES=1000 searches harder.
FAST = settings(
    max_examples=int(os.environ.get("DATACENTRIC_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- the config loader ----------------------------------------------------------------------------
KEYS = ["classes", "backbone", "image_size", "seed", "folds", "Classes", "extra", ""]
SCALARS = st.one_of(
    st.integers(-10, 10**12),
    st.booleans(),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=3), SCALARS, max_size=2),
)


def _toml(data: dict) -> str:
    """A TOML-ish rendering (json values; some are no valid TOML, which is part of the test)."""
    return "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in data.items())


def _load(text: str | bytes) -> ProjectConfig | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / CONFIG_NAME
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            return ProjectConfig.load(path)
        except DatacentricError:
            return None


NAMES = st.lists(st.sampled_from(["ok", "pit", " pit ", "Pit", "../x", "a\x00b", "", "[/]"]), max_size=3)
SETTINGS = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
    st.fixed_dictionaries(
        {"classes": NAMES},
        optional={
            "folds": st.integers(-1, 9),
            "seed": st.integers(-1, 2**40),
            "image_size": st.integers(-1, 512),
            "backbone": st.sampled_from(["resnet18", "", " x "]),
        },
    ),
)


@promise("P1")
@FAST
@given(SETTINGS)
def test_any_settings_load_or_fail_with_one_datacentric_error(data):
    config = _load(_toml(data))
    event("loaded" if config is not None else "refused")
    if config is not None:  # what loads, saves and loads back the same
        with tempfile.TemporaryDirectory() as folder:
            config.save(Path(folder) / CONFIG_NAME)
            assert ProjectConfig.load(Path(folder) / CONFIG_NAME) == config
        assert config.folds >= 2 and config.image_size >= 0 and config.seed >= 0


@promise("P1")
@FAST
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_any_bytes_as_settings_load_or_fail_with_one_datacentric_error(raw):
    _load(raw)


# -- the CSV importer -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shots")
    write_image(folder / "a.png", seed=2001, size=8)
    write_image(folder / "b.png", seed=2002, size=8)
    (folder / "bad.png").write_bytes(b"not an image")
    return folder


COLUMNS = st.sampled_from(["file", "label", "annotator", "camera", "file ", "label", "", "x,y"])
CELLS = st.one_of(
    st.sampled_from(
        [
            "a.png",
            "b.png",
            "bad.png",
            "missing.png",
            "../a.png",
            "ok",
            "pit",
            "Ok",
            "../x",
            "",
            " ",
            "a\x00b",
            "[/]",
            '"',
            "x\ny",
        ]
    ),
    st.text(max_size=8),
)


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


HEADERS = st.one_of(
    st.just(["file", "label"]),
    st.just(["file", "label", "annotator", "camera"]),
    st.lists(COLUMNS, max_size=5),
)
FILES = st.sampled_from(["a.png", "b.png", "bad.png", "missing.png", "../shots/a.png", ""])
ROWS = st.lists(
    st.one_of(
        st.tuples(FILES, CELLS).map(list),
        st.tuples(FILES, CELLS, CELLS, CELLS).map(list),
        st.lists(CELLS, max_size=6),
    ),
    max_size=6,
)


@promise("P1")
@FAST
@given(
    header=HEADERS,
    rows=ROWS,
    fixed=st.booleans(),
    skip_bad=st.booleans(),
    raw=st.one_of(st.none(), st.binary(max_size=80)),
)
def test_any_csv_imports_or_fails_and_a_failure_changes_nothing(shots, header, rows, fixed, skip_bad, raw):
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(shots) / f"m-{Path(folder).name}.csv"
        if raw is None:
            manifest.write_text(_csv_text(header, rows), encoding="utf-8")
        else:
            manifest.write_bytes(raw)
        try:
            with Project.init(Path(folder) / "p", classes=["ok", "pit"] if fixed else ()) as proj:
                before = store_digest(proj.root)
                try:
                    result = import_csv(proj, manifest, skip_bad=skip_bad)
                except DatacentricError:
                    event("refused")
                    assert store_digest(proj.root) == before
                    return
                event("imported")
                assert result.images_added + result.images_known >= 1
                if fixed:
                    assert set(proj.classes()) <= {"ok", "pit"}
                else:  # every class is a label the file wrote, in one of the encodings import reads
                    data = manifest.read_bytes()
                    texts = [data.decode(e, "ignore") for e in ("utf-8-sig", "utf-16", "cp1252", "latin-1")]
                    assert all(any(name in text for text in texts) for name in proj.classes())
                for name in proj.classes():  # only names the rule of datacentric.names accepts
                    assert clean_class_name(name) == name
        finally:
            manifest.unlink()


@promise("S1")
@FAST
@given(st.text(max_size=30))
def test_any_name_the_rule_accepts_is_one_folder_inside_the_project(raw):
    from datacentric.paths import inside

    try:
        name = clean_class_name(raw)
    except DatacentricError:
        event("refused")
        return
    event("accepted")
    root = Path("/tmp/project")
    path = inside(root, "generated", "synthetic", name)
    assert path.parent == root / "generated" / "synthetic" and path.name == name
