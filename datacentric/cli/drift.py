"""Commands for watching production: drift (new images vs training) and retrain (the gate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.text import Text

from datacentric.cli import app
from datacentric.cli.common import AddressOption, EngineOption, JsonOption, ProjectArg, console, print_json, say
from datacentric.project import Project

if TYPE_CHECKING:
    from datacentric.drift import DriftResult

PerOption = Annotated[
    Optional[str],
    typer.Option(
        help="Test each group of these metadata columns apart (e.g. camera,shift; 'folder' = first "
        "sub-folder), Holm-corrected across groups."
    ),
]
WindowOption = Annotated[
    Optional[str],
    typer.Option(
        help="Test each time window apart (30min, 1h, 1d): by the metadata's timestamp column, "
        "else file modification time."
    ),
]
MetadataOption = Annotated[
    Optional[Path],
    typer.Option(help="CSV with a file column (paths relative to the CSV) and metadata columns for --per/--window."),
]


@app.command()
def drift(
    project: ProjectArg,
    folder: Annotated[Path, typer.Argument(help="Folder of new, unlabelled images (searched recursively).")],
    alpha: Annotated[float, typer.Option(help="False-alarm rate of the verdict.")] = 0.05,
    method: Annotated[str, typer.Option(help="mmd (kernel test, default) or ks (per-component KS).")] = "mmd",
    top: Annotated[int, typer.Option(help="How many of the most unusual images to list.")] = 20,
    per: PerOption = None,
    window: WindowOption = None,
    metadata: MetadataOption = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
    json: JsonOption = False,
) -> None:
    """Check whether new images still look like the training images; store the check.

    Prints the verdict with its p-value and what changed in words (darker, less sharp,
    colour cast from per-image pixel statistics; "more scratch predicted" from the model's
    class mix; all tested together with the model's embeddings, false alarms at most
    alpha), the most unusual images, the shift in confidence, and what to do; writes an
    HTML report.

    With --engine ray the new images are read, embedded and predicted on a Ray cluster;
    the tests then run here on the stored vectors.

    Example:  datacentric drift parts/ tonight/ --alpha 0.05
              datacentric drift parts/ month/ --per camera --metadata cams.csv
              datacentric drift parts/ line3/ --engine ray --address auto
    """
    from datacentric.drift import check_drift

    columns = [c.strip() for c in (per or "").split(",") if c.strip()]
    with Project.open(project) as proj:
        result = check_drift(
            proj,
            folder,
            alpha=alpha,
            method=method,
            top=top,
            per=columns,
            window=window,
            metadata=metadata,
            engine=engine,
            address=address,
        )
    if json:
        print_json(result)
        return
    _print_result(result)


def _print_result(result: DriftResult) -> None:
    """The verdict, each family's evidence, the images listed first, the advice and the report."""
    word = Text("DRIFT", style="red") if result.drift else Text("no drift", style="green")
    what = f": {result.description}" if result.description else ""
    console.print(word + Text(f" (p = {result.p_value:.2g}, n = {result.n}){what}"))
    _print_groups(result.groups, result.alpha)
    emb, pix = result.embedding, result.pixel_stats
    console.print(
        f"  embedding {emb['method']} p = {emb['p_value']:.2g} (statistic {emb['statistic']:.3g})"
        + (f" · pixel statistics p = {pix['p_value']:.2g}" if pix else "")
        + f" · {result.n_reference} training images, alpha {result.alpha}",
        markup=False,
    )
    mix, conf = result.class_mix, result.confidence
    moved = sorted(mix["batch"], key=lambda c: -abs(mix["batch"][c] - mix["reference"][c]))[:2]
    shifts = ", ".join(f"{c} {mix['reference'][c]:.2f} → {mix['batch'][c]:.2f}" for c in moved)
    console.print(
        f"  predicted share: {shifts} (class mix p = {mix['p_value']:.2g}) · mean confidence "
        f"{conf['reference']:.2f} → {conf['batch']:.2f}"
    )
    if result.top_images:
        names = ", ".join(Path(t["image"]).name for t in result.top_images[:5])
        console.print(
            f"  most different: {names}{' ...' if len(result.top_images) > 5 else ''} "
            f"({result.unusual} individually beyond {1 - result.alpha:.0%} of training)",
            markup=False,
        )
    for item in result.skipped:
        console.print(f"  skipped {item['image']}: {item['reason']}", markup=False)
    for line in result.advice:
        say(f"next: {line}")
    console.print(f"  report: {result.report}", markup=False)


def _print_groups(groups: list[dict], alpha: float) -> None:
    """One line per group of a grouped check: verdict, Holm-adjusted p-value, what changed."""
    if groups:
        tested = sum(g["tested"] for g in groups)
        console.print(f"  {tested} groups tested (Holm-corrected, alpha {alpha}):", markup=False)
    for g in groups:
        if not g["tested"]:
            console.print(f"    {g['group']}: not tested (n = {g['n']}, too few)", markup=False)
            continue
        word = Text("DRIFT", style="red") if g["drift"] else Text("no drift", style="green")
        what = f": {g['description']}" if g["drift"] and g["description"] else ""
        console.print(
            Text(f"    {g['group']}: ")
            + word
            + Text(f" (p = {g['p_adjusted']:.2g} Holm, {g['p_value']:.2g} alone, n = {g['n']}){what}")
        )


@app.command()
def retrain(
    project: ProjectArg,
    golden: Annotated[
        Optional[str],
        typer.Option(
            help="Golden set: CSV (a file, image, path or id column) or list of images, or a stored golden run id. "
            "Default: a stratified holdout chosen once and kept."
        ),
    ] = None,
    mode: Annotated[Optional[str], typer.Option(help="probe or finetune (default: the champion's).")] = None,
    tolerance: Annotated[
        Optional[float], typer.Option(help="Accuracy drop still called 'not worse' (default: one standard error).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Train a challenger on the current labels; promote it only if not worse on the golden set.

    Within noise, the challenger wins the tie only when labels changed since the champion.

    Example:  datacentric retrain parts/ --golden golden.csv
    """
    from datacentric.retrain import retrain as run_retrain

    with Project.open(project) as proj:
        decision = run_retrain(proj, golden=golden, mode=mode, tolerance=tolerance)
    if json:
        print_json(decision)
        return
    ch, cc = decision.challenger, decision.champion
    verdict = "challenger promoted" if decision.promoted else "champion kept"
    say(
        f"challenger {ch.accuracy:.3f} vs champion {cc.accuracy:.3f} on the golden set "
        f"(n={decision.n_golden}) → {verdict}: {decision.reason}",
        indent=0,
    )
    console.print(
        f"  difference {decision.delta:+.3f} (± {decision.standard_error:.3f}; not worse means "
        f">= -{decision.tolerance:.3f}) · McNemar p = {decision.mcnemar_p:.3g}"
    )
    console.print(
        f"  champion {cc.run_id} ({cc.scored}), challenger {ch.run_id} ({ch.scored}); "
        f"in charge now: {decision.champion_after}",
        markup=False,
    )
    for note in decision.notes:
        console.print(f"  note: {note}", markup=False)
