"""The training label of an image from its annotators' votes (no model needed).

Most votes win. A tie (one annotator against one other, say) goes to the side whose
annotators agree more often with their colleagues on the images they share: an
annotator who is usually in the minority is the one more likely to be wrong on the
tie too. Only when that is equal as well does the most recent vote win.

How often an annotator agrees with the others is measured leave-one-out on every image
that at least two people labelled, with one pseudo-vote each way (so an annotator with
few shared images starts near 0.5 and nobody's weight is exactly 0 or 1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["agreement_rates", "consensus_labels"]


def agreement_rates(votes: Mapping[str, Mapping[str, str]]) -> dict[str, float]:
    """Each annotator's smoothed share of agreeing pairwise comparisons with other annotators.

    ``votes`` is ``{image: {annotator: label}}``.

    Examples
    --------
    >>> rates = agreement_rates({"a": {"x": "ok", "y": "ok", "z": "pit"},
    ...                          "b": {"x": "pit", "y": "pit", "z": "pit"}})
    >>> rates["y"] > rates["z"]  # z is alone on image a
    True
    """
    agree: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    for by_annotator in votes.values():
        if len(by_annotator) < 2:
            continue
        for who, label in by_annotator.items():
            others = [other for name, other in by_annotator.items() if name != who]
            agree[who] += sum(other == label for other in others) / len(others)
            total[who] += 1.0
    names = {who for by_annotator in votes.values() for who in by_annotator}
    return {who: (agree[who] + 1.0) / (total[who] + 2.0) for who in names}


def consensus_labels(
    votes: Mapping[str, Sequence[tuple[str, str]]],
    rates: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """The winning label per image from ``{image: [(annotator, label), ...]}`` in time order.

    Later entries of the same annotator replace earlier ones. ``rates`` are the
    annotators' agreement rates (default: :func:`agreement_rates` of these votes).

    Examples
    --------
    >>> votes = {"a": [("x", "ok"), ("y", "ok"), ("z", "pit")],
    ...          "b": [("x", "pit"), ("y", "pit"), ("z", "pit")],
    ...          "c": [("z", "ok"), ("x", "pit")]}
    >>> consensus_labels(votes)["c"]  # a 1-1 tie: x agrees with the others more than z
    'pit'
    """
    latest = {image: dict(pairs) for image, pairs in votes.items()}
    if rates is None:
        rates = agreement_rates(latest)
    result = {}
    for image, pairs in votes.items():
        by_annotator = latest[image]
        counts = Counter(by_annotator.values())
        weight: dict[str, float] = defaultdict(float)
        for who, label in by_annotator.items():
            weight[label] += rates.get(who, 0.5)
        recency = {label: position for position, (_, label) in enumerate(_latest_order(pairs))}
        result[image] = max(counts, key=lambda label: (counts[label], weight[label], recency[label]))
    return result


def _latest_order(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each annotator's last vote, in the order those last votes were cast."""
    last = {who: (position, label) for position, (who, label) in enumerate(pairs)}
    return [(who, label) for who, (_, label) in sorted(last.items(), key=lambda item: item[1][0])]
