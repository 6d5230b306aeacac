"""Review flagged images in Label Studio and bring the fixes back.

The loop: audit -> push flagged -> fix in Label Studio -> pull -> train again.

    export LABEL_STUDIO_URL=http://localhost:8080 LABEL_STUDIO_API_KEY=...   # your token
    python examples/labelstudio_roundtrip.py parts/              # stops for you to review
    python examples/labelstudio_roundtrip.py parts/ --auto-review # a scripted reviewer accepts
                                                                  # each suggestion (demo/CI)
"""

from __future__ import annotations

import argparse
import os
import sys

from datacentric import DatacentricError, Project, find_issues, train
from datacentric.labelstudio import pull, push


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", help="datacentric project folder")
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL", "http://localhost:8080"))
    parser.add_argument(
        "--auto-review", action="store_true", help="annotate through the SDK instead of waiting for a person"
    )
    args = parser.parse_args()
    token = os.environ.get("LABEL_STUDIO_API_KEY")
    if not token:
        sys.exit("error: set LABEL_STUDIO_API_KEY to your Label Studio access token")

    with Project.open(args.project) as proj:
        trained = train(proj, mode="probe")
        print(f"1. train: cross-validated accuracy {trained.cv_accuracy:.3f}")
        found = find_issues(proj)
        print(f"2. audit: {len(found.flagged)} images flagged")
        result = push(proj, args.url, token, only_flagged=True)
        print(
            f"3. push: {result.tasks_created} new tasks in '{result.title}', {result.flagged} flagged "
            f"first -> {result.url}/projects/{result.project_id}/data"
        )

        if args.auto_review:
            _review_by_script(result, token)
        else:
            input("4. fix the labels in Label Studio, then press Enter to pull ... ")
        pulled = pull(proj, token, url=args.url)
        print(
            f"5. pull: {pulled.changed} labels changed, {pulled.confirmed} confirmed, {pulled.new} new "
            f"by {', '.join(pulled.annotators) or 'nobody'} (history kept)"
        )
        again = train(proj, mode="probe")
        print(f"6. train again: cross-validated accuracy {again.cv_accuracy:.3f}")


def _review_by_script(result, token: str) -> None:
    """A stand-in reviewer: accepts the audit's suggestion (else the pre-label, else the given label)."""
    from label_studio_sdk import LabelStudio

    ls = LabelStudio(base_url=result.url, api_key=token, timeout=20)
    for task in ls.tasks.list(project=result.project_id, fields="all"):
        if task.annotations:
            continue
        label = task.data.get("suggested") or task.data.get("given")
        if task.predictions and not task.data.get("suggested"):
            label = task.predictions[0].result[0]["value"]["choices"][0]
        if label:
            ls.annotations.create(
                id=task.id,
                result=[{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}],
            )
    print("4. review: a scripted reviewer answered every task")


if __name__ == "__main__":
    try:
        main()
    except DatacentricError as exc:
        sys.exit(f"error: {exc}")
