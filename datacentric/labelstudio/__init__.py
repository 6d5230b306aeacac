"""Label Studio round trip: push images, pre-labels and audit flags; pull annotations back.

The sync is keyed by the image content hash on both sides: the ``image_hash`` in each
task's data (the truth, read back on every push) and the project's sync links (system
``labelstudio:<url>#<project id>``, external id = task id, data = which Label Studio
annotations were already pulled). So pushing twice creates no duplicate tasks or
predictions, pulling twice adds nothing, and a sync cut off half-way completes on the
next run. Nothing is ever deleted on either side.

One module per job: :mod:`.client` (the connection, labelling config and instructions
text), :mod:`.links` (which Label Studio project our images are linked to),
:mod:`.studio_project` (the project, its tasks and uploads on the server), :mod:`.tasks`
(what a task says), :mod:`.push_tasks` and :mod:`.pull_labels` (the two directions).

>>> from datacentric.labelstudio import label_config
>>> '<Choice value="pit"/>' in label_config(["ok", "pit"])
True
"""

from __future__ import annotations

from datacentric.labelstudio.client import connect, label_config
from datacentric.labelstudio.links import system_name
from datacentric.labelstudio.pull_labels import PullResult, pull
from datacentric.labelstudio.push_tasks import PushResult, push

__all__ = ["PullResult", "PushResult", "connect", "label_config", "pull", "push", "system_name"]
