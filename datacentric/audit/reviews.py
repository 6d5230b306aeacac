"""How many flags turned out to be real errors, from the reviews a project already holds.

Every flag a reviewer has looked at since (``relabel``, a Label Studio review) is a verified
outcome: the label was changed (a real error) or confirmed (a false alarm). Their share is
reported as measured, and not carried over to today's flags as it is: reviewers take the worst
flags first, and the flags left after those are fixed are far less often real (real solar-cell
photos, ``bench_real.py`` set (a): 64 % of the 5 worst flags were real errors, 15 % of the next
audit's flags). Instead each outcome is paired with the chance its audit gave that flag, and
:mod:`datacentric.audit.trust` corrects today's estimate by them.
"""

from __future__ import annotations

__all__ = ["settled_flags"]


def settled_flags(flags: list[tuple[str, str, str]], reviews: list[tuple[str, str, str]]) -> dict[str, bool]:
    """{image id: was it a real error} for the flags a reviewer has settled.

    ``flags``: (image id, the flagged label, when the audit ran); ``reviews``: (image id,
    the reviewer's label, when). The first review after an image's flag settles it: a label
    other than the flagged one is a real error. An image counts once (its latest flag). A
    review of an image no audit flagged before (labelling in Label Studio) settles nothing.
    """
    latest: dict[str, tuple[str, str]] = {}
    for image, label, when in sorted(flags, key=lambda f: f[2]):
        latest[image] = (label, when)
    verdicts: dict[str, bool] = {}
    for image, label, when in sorted(reviews, key=lambda r: r[2]):
        flagged = latest.get(image)
        if flagged is not None and image not in verdicts and when > flagged[1]:
            verdicts[image] = label != flagged[0]
    return verdicts
