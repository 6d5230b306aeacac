"""The ``embed`` command: production images into the embedding store, here or on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datacentric.cli import app
from datacentric.cli.common import AddressOption, EngineOption, JsonOption, ProjectArg, console, print_json
from datacentric.project import Project
from datacentric.words import plural


@app.command()
def embed(
    project: ProjectArg,
    images: Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).")],
    engine: EngineOption = "local",
    address: AddressOption = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch (per worker).", min=1)] = 32,
    json: JsonOption = False,
) -> None:
    """Embed images with the project's backbone into its Parquet embedding store.

    Images already in the store are hashed, not embedded again, so a re-run only does
    new files; unreadable files are listed, not fatal. The job becomes visible in one
    commit at the end: a job that fails or is stopped leaves the store as it was. drift,
    audit and predict then read the stored vectors instead of computing them.

    Example:  datacentric embed parts/ line3/
              datacentric embed parts/ line3/ --engine ray --address auto
    """
    from datacentric.scale import embed_images

    with Project.open(project) as proj:
        result = embed_images(proj, images, engine=engine, address=address, batch_size=batch_size)
    if json:
        document = {k: v for k, v in vars(result).items() if k not in ("paths", "ids", "statistics")}
        document["images"] = len(result.paths)
        print_json(document)
        return
    console.print(
        f"{plural(len(result.paths), 'image')}: {result.embedded} embedded now, {result.already} "
        f"already stored, {len(result.errors)} unreadable · {result.engine} engine on "
        f"{plural(len(result.nodes), 'node')} · {result.seconds:.1f} s"
    )
    for path, reason in list(result.errors.items())[:10]:
        console.print(f"  unreadable {path}: {reason}")
    if len(result.errors) > 10:
        console.print(f"  ... and {len(result.errors) - 10} more (--json lists them all)")
    console.print(f"store: {result.store}/parts (Parquet: id, path, vector)")
