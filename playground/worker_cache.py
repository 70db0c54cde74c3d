"""The model cache every visitor shares: loaded models by spec, within a memory budget.

Loaded models are kept (least recently used first out), so switching sampler or seed does
not reload. This is the one object shared by every session of the app, on purpose; the
`Worker` (playground/worker.py) loads through it, one device job at a time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

from playground.config import MODEL_CACHE_GB
from playground.models.handle import ModelHandle

logger = logging.getLogger(__name__)
Loader = Callable[..., ModelHandle]


def model_bytes(handle: ModelHandle) -> int:
    """Bytes held by a model's parameters and buffers (tied weights counted once)."""
    model = handle.model
    tensors = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def default_budget() -> int:
    """The cache budget in bytes: $SPECLAB_MODEL_CACHE_GB, else the knob's default."""
    raw = os.environ.get("SPECLAB_MODEL_CACHE_GB")
    gigabytes = MODEL_CACHE_GB.check(float(raw)) if raw else MODEL_CACHE_GB.default
    return int(gigabytes * 2**30)


class ModelCache:
    """Loaded models by spec, least recently used evicted first, within `budget` bytes.

    Thread-safe; loads happen one at a time. The model loaded last always stays, even when
    it alone exceeds the budget, and so do the specs in `keep` (a job's other model).
    """

    def __init__(self, budget: int | None = None, loader: Loader | None = None):
        self.budget = default_budget() if budget is None else budget
        self._loader = loader
        self._models: OrderedDict[str, tuple[ModelHandle, int]] = OrderedDict()
        self._lock = threading.RLock()

    def get(
        self,
        spec: str,
        progress: Callable[[str, float | None], None] | None = None,
        keep: tuple[str, ...] = (),
    ) -> ModelHandle:
        key = spec.strip()
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
            handle = self._load(key, progress)
            self._models[key] = (handle, model_bytes(handle))
            self._evict(protect={key, *keep})
            return handle

    def peek(self, spec: str) -> ModelHandle | None:
        """The cached handle for `spec`, or None; never loads."""
        with self._lock:
            entry = self._models.get(spec.strip())
            return entry[0] if entry else None

    def specs(self) -> list[str]:
        with self._lock:
            return list(self._models)

    @property
    def used(self) -> int:
        with self._lock:
            return sum(size for _, size in self._models.values())

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def _load(self, spec: str, progress: Callable[[str, float | None], None] | None):
        if self._loader is None:
            from playground.models import load_model

            self._loader = load_model
        return self._loader(spec, progress=progress)

    def _evict(self, protect: set[str]) -> None:
        for key in list(self._models):
            if self.used <= self.budget:
                return
            if key not in protect:
                logger.info("model cache: evicting %s", key)
                del self._models[key]
