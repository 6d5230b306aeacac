"""The whole drift check of ``datacentric drift`` on your own arrays or image files.

:class:`DriftDetector` alone runs one family (the embedding test); a lighting change
that leaves the embeddings close can pass it while the pixel statistics see it at once.
:class:`DriftCheck` runs every family it is given, as :func:`check_drift` does for a
project: the embedding test, the pixel-statistics test (from images or their
:func:`image_statistics`) and the predicted class mix, each at alpha / m with the
verdict from :func:`combine_p_values` (m = the families run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from datacentric import plugins
from datacentric.drift.detector import DriftScore
from datacentric.drift.class_mix import N_RESAMPLES, class_mix_test
from datacentric.drift.pixel_stats import PixelStatsTest, StatsScore, combine_p_values, image_statistics
from datacentric.errors import DatacentricError
from datacentric.estimator import Params

__all__ = ["DriftCheck", "DriftCheckScore"]


@dataclass
class DriftCheckScore:
    """The answer of :meth:`DriftCheck.score`: the verdict and each family's evidence."""

    drift: bool  # p_value < alpha
    p_value: float  # Bonferroni over the families run: min(1, m * smallest family p-value)
    alpha: float
    n: int  # batch images
    p_values: dict[str, float] = field(default_factory=dict)  # embedding | pixel_stats | class_mix
    changes: list[str] = field(default_factory=list)  # words from families that reject alone
    description: str = ""  # e.g. "darker (brightness 100 → 51, ...)"
    embedding: DriftScore | None = None
    pixel_stats: StatsScore | None = None
    class_mix: dict = field(default_factory=dict)  # see class_mix_test


class DriftCheck(Params):
    """Every drift test of ``datacentric drift`` on arrays or paths (fit, then score).

    Give ``fit`` and ``score`` the same kinds of evidence; each one given is a family:

    - ``X``: embeddings (N, D), tested with :class:`DriftDetector`;
    - ``images`` (paths, PIL images or uint8 arrays) or ``statistics`` (N, 6) from
      :func:`image_statistics`, tested with :class:`PixelStatsTest`;
    - ``predicted``: class indices (N,) or probabilities (N, K) from your model (with
      ``classes`` at fit), tested with :func:`class_mix_test`.

    Parameters
    ----------
    alpha : float, default 0.05
        False-alarm rate of the verdict (each of the m families is judged at alpha / m).
    method : str, default "mmd"
        The embedding test: "mmd" or "ks" (see :class:`DriftDetector`), or a registered
        ``drift_detector`` plugin (see :mod:`datacentric.plugins`).
    n_permutations : int, default 1000
    seed : int, default 0

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.integers(80, 180, size=(30, 16, 16, 3), dtype=np.uint8)
    >>> dark = (rng.integers(80, 180, size=(12, 16, 16, 3)) * 0.5).astype(np.uint8)
    >>> check = DriftCheck().fit(images=list(ref))
    >>> score = check.score(images=list(dark))
    >>> score.drift, score.changes[0]
    (True, 'darker')
    """

    def __init__(self, alpha: float = 0.05, method: str = "mmd", *, n_permutations: int = 1000, seed: int = 0) -> None:
        self.alpha = alpha
        self.method = method
        self.n_permutations = n_permutations
        self.seed = seed

    def fit(
        self,
        X: np.ndarray | None = None,
        *,
        images: Sequence | None = None,
        statistics: np.ndarray | None = None,
        predicted: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> DriftCheck:
        """Learn the reference (the training images) from every kind of evidence given."""
        families = [X is not None, images is not None or statistics is not None, predicted is not None]
        self.families_ = [name for name, given in zip(_FAMILIES, families) if given]
        if not self.families_:
            raise DatacentricError("DriftCheck.fit needs embeddings X, images/statistics or predicted classes")
        self.family_alpha_ = self.alpha / len(self.families_)
        if X is not None:
            detector = plugins.get("drift_detector", self.method)  # mmd, ks or a plugin's
            self.detector_ = detector(alpha=self.alpha, n_permutations=self.n_permutations, seed=self.seed).fit(X)
        if "pixel_stats" in self.families_:
            self.stats_ = PixelStatsTest(alpha=self.family_alpha_).fit(_statistics(images, statistics))
        if predicted is not None:
            if classes is None:
                raise DatacentricError("DriftCheck.fit needs classes with predicted")
            self.classes_ = list(classes)
            self.reference_predicted_ = _indices(predicted)
        return self

    def score(
        self,
        X: np.ndarray | None = None,
        *,
        images: Sequence | None = None,
        statistics: np.ndarray | None = None,
        predicted: np.ndarray | None = None,
    ) -> DriftCheckScore:
        """Test one batch with every family fitted; the same evidence as at fit is needed."""
        if not hasattr(self, "families_"):
            raise DatacentricError("this DriftCheck is not fitted yet: call fit(...) first")
        given = {
            "embedding": X is not None,
            "pixel_stats": images is not None or statistics is not None,
            "class_mix": predicted is not None,
        }
        missing = [name for name in self.families_ if not given[name]]
        if missing:
            raise DatacentricError(f"score needs the same evidence as fit: {', '.join(missing)} missing")
        p_values: dict[str, float] = {}
        worded: dict[str, tuple[list[str], str]] = {}
        result = DriftCheckScore(drift=False, p_value=1.0, alpha=float(self.alpha), n=0)
        if "embedding" in self.families_:
            result.embedding = self.detector_.score(X)
            p_values["embedding"], result.n = result.embedding.p_value, result.embedding.n
        if "pixel_stats" in self.families_:
            result.pixel_stats = self.stats_.score(_statistics(images, statistics))
            p_values["pixel_stats"], result.n = result.pixel_stats.p_value, result.pixel_stats.n
            worded["pixel_stats"] = (result.pixel_stats.changes, result.pixel_stats.description)
        if "class_mix" in self.families_:
            batch = _indices(predicted)
            result.class_mix = class_mix_test(
                self.reference_predicted_,
                batch,
                self.classes_,
                alpha=self.family_alpha_,
                n_resamples=N_RESAMPLES,
                seed=self.seed,
            )
            p_values["class_mix"], result.n = result.class_mix["p_value"], len(batch)
            worded["class_mix"] = (result.class_mix["changes"], result.class_mix["description"])
        result.p_values = p_values
        result.p_value = combine_p_values(*p_values.values())
        result.drift = bool(result.p_value < self.alpha)
        speaking = sorted(
            (name for name, (words, _) in worded.items() if words and p_values[name] < self.family_alpha_),
            key=p_values.get,
        )
        result.changes = [w for name in speaking for w in worded[name][0]]
        result.description = "; ".join(worded[name][1] for name in speaking)
        return result


_FAMILIES = ("embedding", "pixel_stats", "class_mix")


def _statistics(images: Sequence | None, statistics: np.ndarray | None) -> np.ndarray:
    """Pixel statistics given, or computed from the images."""
    if statistics is not None:
        return np.asarray(statistics, dtype=np.float64)
    return image_statistics(images)


def _indices(predicted: np.ndarray) -> np.ndarray:
    """Class indices from indices (N,) or probabilities (N, K)."""
    predicted = np.asarray(predicted)
    return predicted.argmax(axis=1) if predicted.ndim == 2 else predicted.astype(int)
