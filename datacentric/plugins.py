"""The one plugin registry: synthetic-data generators, backbones and drift detectors.

A plugin is a module (or a function) named by an entry point in one of three groups::

    [project.entry-points."datacentric.generators"]
    procedural = "datacentric_procedural"            # module with register_generators()

    [project.entry-points."datacentric.backbones"]
    mynet = "my_package.plugin:register_backbones"   # or the hook function itself

    [project.entry-points."datacentric.drift_detectors"]
    ...                                              # module with register_drift_detectors()

The hook, ``register_generators(register)`` (``register_backbones``,
``register_drift_detectors``), is called once with a ``register`` callback;
it calls ``register(obj)`` or ``register(obj, name="...")`` for everything it
provides (the name defaults to ``obj.name``). What an object must be depends on
the group, and each kind is used where its name is given:

- a generator is a :class:`datacentric.improve.synth.Generator` subclass
  (``improve``/``synth --generator NAME``);
- a backbone is a factory ``(pretrained=..., num_classes=...) -> nn.Module`` returning a
  timm-style model (``num_classes=0``: pooled features, ``num_features`` wide; K > 0: a K-class
  head behind ``get_classifier()``); :func:`datacentric.model.create_backbone` builds it, so
  ``train --backbone NAME`` trains on it and its saved model loads again;
- a drift detector is a class (or factory) ``(alpha=..., n_permutations=..., seed=...)``
  with ``fit(X)`` and ``score(X) -> DriftScore`` on embeddings, like
  :class:`datacentric.drift.DriftDetector`: ``drift --method NAME`` and
  ``DriftCheck(method=NAME)`` use it as the embedding test.

Built-ins register through the same hooks (and are declared under the same
entry points in ``pyproject.toml``); they are loaded first from
:data:`BUILTINS`, so a source tree without installed metadata finds them too.

Discovery runs lazily, once per process and kind, on the first lookup of that kind
(so asking for a backbone never imports the generators). A plugin that
fails to import or to register is recorded in :func:`broken_plugins` with its
name and the error, and skipped. Registering a name twice in one kind raises.
The environment variable ``DATACENTRIC_PLUGINS`` limits which outside plugins
load: unset loads all; a comma-separated list of entry-point or distribution
names loads only those; an empty value (or ``none``) loads built-ins only.

>>> from datacentric import plugins
>>> "copy_paste" in plugins.names("generator")
True
"""

from __future__ import annotations

import importlib
import os
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from datacentric.errors import DatacentricError

__all__ = [
    "BUILTINS",
    "ENV_VAR",
    "GROUPS",
    "BrokenPlugin",
    "PluginEntry",
    "broken_plugins",
    "entries",
    "find",
    "get",
    "load_plugins",
    "names",
    "register",
    "registered",
    "reset",
    "unregister",
]

ENV_VAR = "DATACENTRIC_PLUGINS"

# kind -> (entry-point group, hook function name)
GROUPS: dict[str, tuple[str, str]] = {
    "generator": ("datacentric.generators", "register_generators"),
    "backbone": ("datacentric.backbones", "register_backbones"),
    "drift_detector": ("datacentric.drift_detectors", "register_drift_detectors"),
}

# Built-in hooks: (kind, plugin name, "module" or "module:function"). The same
# references are declared as entry points in pyproject.toml; loading them from
# here as well means a source checkout finds them without installed metadata.
# A built-in whose module is absent, or has no hook for the kind, is skipped quietly.
BUILTINS: list[tuple[str, str, str]] = [
    ("generator", "builtin", "datacentric.improve.synth"),
    ("backbone", "builtin", "datacentric.model.backbone"),
    ("drift_detector", "builtin", "datacentric.drift"),
]

# Registered for the test suite only; usable by name but not listed to users.
INTERNAL: frozenset[tuple[str, str]] = frozenset({("backbone", "test_efficientnet")})


@dataclass(frozen=True)
class PluginEntry:
    """One registered object."""

    kind: str  # generator | backbone | drift_detector
    name: str  # the name users pass (e.g. --generator copy_paste)
    obj: Any  # the class, factory or instance
    plugin: str  # the entry point (or caller) that registered it
    source: str  # "built-in", "<distribution> <version>", or "register()" for runtime calls


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to load; it was skipped."""

    kind: str
    plugin: str  # entry-point name
    source: str  # distribution or module reference
    error: str  # "<ExceptionType>: message"


class _Registry:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, PluginEntry]] = {kind: {} for kind in GROUPS}
        self._broken: list[BrokenPlugin] = []
        self._loaded: set[str] = set()  # the kinds discovered so far
        self._lock = threading.RLock()

    # -- discovery -------------------------------------------------------------------
    def ensure_loaded(self, kind: str | None = None) -> None:
        with self._lock:
            todo = [k for k in ([kind] if kind is not None else GROUPS) if k not in self._loaded]
            self._loaded.update(todo)  # set first: a plugin that looks things up must not recurse
            for k in todo:
                self._discover(k)

    def _discover(self, kind: str) -> None:
        builtin_refs = set()
        for builtin_kind, plugin, ref in BUILTINS:
            if builtin_kind == kind:
                builtin_refs.add(ref)
                self._load_hook(kind, plugin, ref, source="built-in", builtin=True)
        wanted = _wanted_plugins()
        for ep in sorted(_entry_points(GROUPS[kind][0]), key=lambda e: e.name):
            dist = _dist_label(ep)
            if ep.value in builtin_refs or dist.split(" ")[0] == "datacentric":
                continue  # declared in our own pyproject (perhaps an older one): loaded above

            if wanted is not None and ep.name not in wanted and dist.split(" ")[0] not in wanted:
                continue
            self._load_hook(kind, ep.name, ep.value, source=dist, loader=ep.load)

    def _load_hook(
        self,
        kind: str,
        plugin: str,
        ref: str,
        *,
        source: str,
        builtin: bool = False,
        loader: Callable[[], Any] | None = None,
    ) -> None:
        hook_name = GROUPS[kind][1]
        added: list[str] = []
        try:
            try:
                target = loader() if loader is not None else _resolve(ref)
            except ModuleNotFoundError as exc:
                if builtin and exc.name and ref.split(":")[0].startswith(exc.name):
                    return  # an optional built-in module not present in this build
                raise
            hook = getattr(target, hook_name, None) if _is_module(target) else target
            if hook is None and builtin:
                return  # a built-in module that provides nothing of this kind (yet)
            if not callable(hook):
                raise TypeError(f"{ref} has no {hook_name}(register) function")

            def _register(obj: Any, *, name: str | None = None) -> None:
                entry = self.add(kind, obj, name=name, plugin=plugin, source=source)
                added.append(entry.name)

            hook(_register)
        except Exception as exc:  # a broken plugin must never break the caller
            for name in added:  # all or nothing per plugin
                self._entries[kind].pop(name, None)
            self._broken.append(BrokenPlugin(kind, plugin, f"{source}: {ref}", f"{type(exc).__name__}: {exc}"))

    # -- entries ---------------------------------------------------------------------
    def add(self, kind: str, obj: Any, *, name: str | None, plugin: str, source: str) -> PluginEntry:
        _check_kind(kind)
        name = name if name is not None else getattr(obj, "name", None)
        if not name or not isinstance(name, str):
            raise DatacentricError(f"a {kind} needs a name (give name= or set obj.name)", plugin)
        with self._lock:
            existing = self._entries[kind].get(name)
            if existing is not None:
                raise DatacentricError(
                    f"duplicate {kind} '{name}': already registered by {existing.plugin} ({existing.source})",
                    plugin,
                )
            entry = PluginEntry(kind=kind, name=name, obj=obj, plugin=plugin, source=source)
            self._entries[kind][name] = entry
            return entry


_registry = _Registry()


def _is_module(obj: Any) -> bool:
    return isinstance(obj, types.ModuleType)


def _resolve(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        target = getattr(target, part)
    return target


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    try:
        return list(metadata.entry_points(group=group))
    except Exception:  # pragma: no cover - a corrupt metadata folder must not break the CLI
        return []


def _dist_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.module
    return f"{dist.metadata['Name']} {dist.version}"


def _wanted_plugins() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    names = {v.strip() for v in value.split(",") if v.strip()}
    return set() if names <= {"none"} else names


def _check_kind(kind: str) -> None:
    if kind not in GROUPS:
        raise DatacentricError(f"unknown plugin kind '{kind}' (kinds: {', '.join(GROUPS)})")


# -- public API -------------------------------------------------------------------------
def load_plugins() -> None:
    """Discover built-ins and installed plugins now (otherwise done on first lookup)."""
    _registry.ensure_loaded()


def register(kind: str, obj: Any, *, name: str | None = None, plugin: str = "register()") -> PluginEntry:
    """Register an object at run time (e.g. from your own script or a test).

    Raises :class:`DatacentricError` if ``name`` (default ``obj.name``) is taken.
    """
    _check_kind(kind)
    _registry.ensure_loaded(kind)
    return _registry.add(kind, obj, name=name, plugin=plugin, source="register()")


def unregister(kind: str, name: str) -> None:
    """Remove a registered object; raises if it is not there."""
    _check_kind(kind)
    _registry.ensure_loaded(kind)
    with _registry._lock:
        if _registry._entries[kind].pop(name, None) is None:
            raise DatacentricError(f"no {kind} '{name}' registered")


@contextmanager
def registered(kind: str, obj: Any, *, name: str | None = None) -> Iterator[PluginEntry]:
    """Register for the duration of a ``with`` block, then unregister."""
    entry = register(kind, obj, name=name)
    try:
        yield entry
    finally:
        unregister(kind, entry.name)


def entries(kind: str | None = None) -> list[PluginEntry]:
    """Every registered object (of one kind), sorted by kind and name."""
    kinds = [kind] if kind is not None else list(GROUPS)
    for k in kinds:
        _check_kind(k)
    _registry.ensure_loaded(kind)
    return [e for k in kinds for _, e in sorted(_registry._entries[k].items())]


def names(kind: str) -> list[str]:
    """Registered names of one kind, sorted."""
    return [e.name for e in entries(kind)]


def get(kind: str, name: str) -> Any:
    """The object registered under ``name``; a clear error lists what exists."""
    entry = find(kind, name)
    if entry is None:
        known = ", ".join(names(kind)) or "none"
        broken = [b.plugin for b in _registry._broken if b.kind == kind]
        extra = f"; broken plugins: {', '.join(broken)} (see `datacentric plugins`)" if broken else ""
        raise DatacentricError(f"no {kind.replace('_', ' ')} '{name}' (installed: {known}){extra}")
    return entry.obj


def find(kind: str, name: str) -> PluginEntry | None:
    """The entry registered under ``name`` in ``kind``, or None."""
    _check_kind(kind)
    _registry.ensure_loaded(kind)
    return _registry._entries[kind].get(name)


def broken_plugins() -> list[BrokenPlugin]:
    """Plugins that failed to load, with the reason (they were skipped)."""
    _registry.ensure_loaded()
    return list(_registry._broken)


def reset() -> None:
    """Forget everything; the next lookup discovers plugins again (tests, env-var changes)."""
    global _registry
    _registry = _Registry()
