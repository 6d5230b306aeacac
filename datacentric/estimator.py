"""The scikit-learn estimator contract, without importing scikit-learn.

An estimator stores each ``__init__`` argument unchanged under its own name and keeps
what it learns in attributes ending in ``_``; :class:`Params` then gives it
``get_params``/``set_params``, which is all :func:`sklearn.base.clone`, grid search and
pipelines need. (Inheriting ``sklearn.base.BaseEstimator`` would do the same but import
scikit-learn with the class; :class:`datacentric.model.ProbeClassifier` stays light.)
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Params"]


class Params:
    """``get_params``/``set_params`` from the ``__init__`` signature, as scikit-learn defines them."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (and, with ``deep``, those of nested estimators as ``name__param``)."""
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
            params[name] = value
        return params

    def set_params(self, **params: Any) -> Params:
        """Set constructor arguments (``name`` or nested ``name__param``); unknown names raise ValueError."""
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__} (valid: {', '.join(valid)})")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self
