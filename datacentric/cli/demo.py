"""``datacentric demo``: the whole loop on generated inspection images.

The demo runs the very commands a user would type, each in its own process as from a
shell, printing each one first, so its output doubles as a tour of the CLI and no step's
memory (torch, an ONNX Runtime session, a step's arrays) stays behind for the next.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from datacentric.cli import app
from datacentric.cli.common import console
from datacentric.errors import DatacentricError


def demo_commands(root: Path, data: Path) -> list[list[str]]:
    """The loop, as CLI commands: import, train, audit, review, improve, export, drift, retrain."""
    project = str(root / "project")
    model = str(root / "model.onnx")
    return [
        ["init", project],
        ["import", project, str(data / "photos"), "--annotator", "mira"],
        ["import", project, str(data / "labels_extra.csv")],
        ["status", project],
        ["train", project],
        ["audit", project],
        ["relabel", project, "--from", str(root / "review.csv")],  # after play_reviewer writes it
        ["audit", project],
        ["improve", project, "--seeds", "3", "--budget", "30"],
        ["export", project, "--int8", "--out", model, "--skip-torch-b16"],
        ["predict", project, str(root / "tonight"), "--model", model],
        ["drift", project, str(root / "tonight")],
        ["retrain", project],
    ]


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the demo data and project.")] = Path("demo"),
    per_class: Annotated[int, typer.Option(help="Images per class.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed for the generator and every step.")] = 0,
) -> None:
    """Generate demo inspection photos and run every step of the loop on them.

    The photos: ok, scratch, dent, pit, discoloration parts; three annotators
    (ana is sloppy); line/camera/shift metadata (camera B is darker); a few
    labels that every annotator got wrong, with the truth in
    data/ground_truth.csv. Then, as you would type them: init, import, status,
    train, audit, relabel (the demo plays the reviewer: the 10 worst flags get
    their true labels), audit again, improve, export, predict, drift (on a
    darker "tonight" batch) and retrain. Starts from a fresh project each time.

    Example:  datacentric demo    # writes demo/data, demo/project, demo/tonight
    """
    from datacentric.demo import generate_batch, generate_demo

    root = _claim(out_dir.resolve())
    data = generate_demo(root / "data", per_class=per_class, seed=seed, overwrite=True)
    console.print(
        f"generated {len(data.files)} photos in {data.photos_dir}, more annotators' labels in "
        f"{data.labels_csv}, the truth in {data.ground_truth_csv}",
        markup=False,
    )
    shutil.rmtree(root / "tonight", ignore_errors=True)
    generate_batch(root / "tonight", 30, seed=seed + 1, shift="lighting")
    console.print(f"generated 30 new production photos, taken in poorer light, in {root / 'tonight'}", markup=False)
    shutil.rmtree(root / "project", ignore_errors=True)

    for args in demo_commands(root, data.root):
        if args[0] == "relabel" and not _play_reviewer(root, data.root):
            continue  # no flag to review: nothing to relabel
        if not _run(args, root):
            if "--int8" not in args:
                raise DatacentricError(f"demo stopped at `datacentric {args[0]}`", root)
            # An int8 model that disagrees with torch is refused; the demo ships fp32 instead.
            console.print("int8 refused (see above): exporting the fp32 model instead", markup=False)
            if not _run([a for a in args if a != "--int8"], root):
                raise DatacentricError("demo stopped at `datacentric export`", root)
    console.rule("done")
    console.print(f"everything is in {root}; open the audit report listed above in a browser", markup=False)


DEMO_MARK = ".datacentric-demo"  # in a folder the demo made, which it may clear on its next run


def _claim(root: Path) -> Path:
    """``root`` for the demo: new, empty, or made by an earlier demo (it clears ``project/`` and
    ``tonight/`` there); refused in one line when it holds anything else.
    """
    if root.exists() and not root.is_dir():
        raise DatacentricError("exists and is not a folder", root)
    if root.is_dir() and not (root / DEMO_MARK).exists() and any(root.iterdir()):
        raise DatacentricError("this folder holds other files: give the demo an empty or new folder", root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARK).write_text("made by `datacentric demo`, which replaces this folder's contents on each run\n")
    return root


def _play_reviewer(root: Path, data: Path) -> int:
    """Stand in for the person who reviews the worst flags (see :mod:`datacentric.demo.reviewer`);
    how many flags were settled.
    """
    from datacentric.demo.reviewer import REVIEWER, play_reviewer

    settled = play_reviewer(root / "project", data, root / "review.csv")
    console.rule("the demo plays your reviewer", style="cyan")
    if not settled:
        console.print("the audit flagged no image: nothing to review", markup=False)
        return 0
    console.print(
        f"{REVIEWER} looks at the {settled} worst flags and writes down their true labels (from "
        f"{_short(str(data / 'ground_truth.csv'), root)}) in {_short(str(root / 'review.csv'), root)}; "
        "relabel applies them, and the next audit counts how many were real errors",
        markup=False,
    )
    return settled


def _run(args: list[str], root: Path) -> bool:
    """Run one CLI command as a user would, in a fresh process; True when it succeeded."""
    console.rule("$ datacentric " + " ".join(_short(a, root) for a in args), style="cyan")
    sys.stdout.flush()
    return subprocess.run([sys.executable, "-m", "datacentric", *args], check=False).returncode == 0


def _short(arg: str, root: Path) -> str:
    return arg.replace(str(root.parent) + "/", "") if arg.startswith(str(root)) else arg
