"""The retrain gate: train a challenger on the current labels, promote it only if not worse.

Champion and challenger are scored on the same fixed *golden set* of labelled real
images, against their current consensus labels:

* The golden set is named by the user (a CSV with a ``file``/``image``/``path`` column,
  or a text file with one image per line: id, path or file name), or by default a
  deterministic stratified holdout (20% of each class with at least 3 images, chosen by
  a hash of the project seed and the image id). When the champion's train run kept groups
  together (``--group-by part_id``, near-duplicate twins), the holdout takes whole groups
  (chosen by a hash of the seed and the group), so no golden image has a sibling in training.
  Either way it is stored once as a "golden" run and reused by every later retrain, so the
  yardstick never moves.
* No model is scored on an image it trained on. For each golden image: if the model's
  train run trained on it (it is in that run's ``oof.npz``), its out-of-fold probability
  is used (from the cross-validation model that did not see it); otherwise the final
  model predicts it. The challenger is trained without the golden set (``train(exclude=...)``)
  and so scored with its final model; the report says which way each model was scored.
* "Not worse" allows for noise: with ``d_i`` = 1 where only the challenger is right, -1
  where only the champion is, 0 otherwise, the difference ``mean(d)`` is *within noise*
  when ``|mean(d)| <= tolerance``; the default tolerance is one paired standard error of
  ``mean(d)`` and at least one golden image (1/n). McNemar's exact p-value is reported.
  See :func:`decide`: a challenger scoring higher is promoted; one scoring the same or
  lower within noise is promoted only when labels changed since the champion was trained
  (it learned from them: that breaks the tie), else the champion stays; one lower by
  more than noise is rejected. :attr:`RetrainDecision.reason` says which, in words.

The decision is a "retrain" run whose metrics hold ``promoted`` and ``champion_after``
(the train run in charge afterwards); :func:`champion_run` reads that history.
"""

from __future__ import annotations

from datacentric.retrain.gate import ModelScore, RetrainDecision, champion_run, decide, retrain
from datacentric.retrain.golden import GoldenSet, golden_set, holdout_groups

__all__ = [
    "GoldenSet",
    "ModelScore",
    "RetrainDecision",
    "champion_run",
    "decide",
    "golden_set",
    "holdout_groups",
    "retrain",
]
