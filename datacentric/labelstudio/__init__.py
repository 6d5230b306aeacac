"""Label Studio round trip: push images, pre-labels and audit flags; pull annotations back.

>>> from datacentric.labelstudio import label_config
>>> '<Choice value="pit"/>' in label_config(["ok", "pit"])
True
"""

from __future__ import annotations

from datacentric.labelstudio.client import connect, label_config
from datacentric.labelstudio.sync import PullResult, PushResult, pull, push, system_name

__all__ = ["PullResult", "PushResult", "connect", "label_config", "pull", "push", "system_name"]
