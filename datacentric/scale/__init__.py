"""Run embed, predict and drift over many images: in this process or on a Ray cluster.

``--engine local`` (the default) runs here; ``--engine ray`` runs the same per-batch
workers (:mod:`.workers`) as Ray Data actors, on a throw-away local cluster or one that
``--address`` names. Both engines write the same Parquet embedding store
(:mod:`datacentric.model.embedding_store`). Ray is an optional extra:
``pip install "datacentric[ray]"``.
"""

from datacentric.scale.embed import EmbedResult, embed_images
from datacentric.scale.engine import ENGINES, RAY_EXTRA
from datacentric.scale.predict import PredictResult, predict_images

__all__ = ["ENGINES", "RAY_EXTRA", "EmbedResult", "PredictResult", "embed_images", "predict_images"]
