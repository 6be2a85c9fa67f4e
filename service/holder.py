"""The model in service and the watcher that swaps it when the registry's pointer moves.

Each worker process owns one :class:`ModelHolder`. Requests read :attr:`ModelHolder.model`
once and use that reference to the end, so a swap never changes the model under a request
that is running. A new version is loaded, verified (hashes before unpickling, by the
registry) and warmed up in the watcher's thread; only then is the reference replaced, which
is one atomic assignment. A version that fails verification is refused: the old one keeps
serving and the failure is logged and reported by ``/readyz``.

An activation through the API (:meth:`ModelHolder.activate`, :meth:`ModelHolder.rollback`)
serves the very model the registry loaded and tried before moving the pointer: the version is
loaded once, not once to try and again to serve.

The first load happens in the watcher's thread too, right after the worker starts serving:
until it ends, ``/readyz`` answers 503 ("loading the model") and classify routes 503 with
``Retry-After``, instead of connections hanging while the model loads.

With every model, the holder loads its :class:`~nlp.dispatch.Dispatcher` (urgency terms,
gazetteer, routing table: the files the settings name, read again so that an edited file
takes effect) and checks it against the model's labels; the pair is swapped in as one
reference (:class:`Serving`), so a request never routes with one model's labels and another's
table. A routing table that does not fit a new version's labels refuses the swap as a corrupt
model does: the old pair keeps serving, and the reason (the table's file and line) is logged
and reported by ``/readyz``; :meth:`ModelHolder.activate` refuses such a version before the
pointer moves.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass

from nlp.dispatch import DispatchConfig, Dispatcher
from nlp.errors import AppealRouterError, ModelIntegrityError
from nlp.model import RoutingModel
from nlp.registry import ActivePointer, Registry
from service import metrics

__all__ = ["ModelHolder", "Serving", "SwapFailure"]

logger = logging.getLogger("service.holder")


def _freeze_heap() -> None:
    """Move every object alive now (the model's, mostly: it lives as long as it serves) out of
    the garbage collector's reach. Each full collection would otherwise walk the whole model
    again, and the more objects requests keep alive for a moment (answers waiting for the
    ticket store), the more full collections there are. Unfrozen first, so that what the
    previous model left in cycles is collected now."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class SwapFailure:
    """The last version that could not be loaded, and why."""

    version: str | None
    reason: str


@dataclass(frozen=True)
class Serving:
    """The model in service and the dispatcher loaded for it (None: no dispatch fields)."""

    model: RoutingModel
    dispatcher: Dispatcher | None = None


class ModelHolder:
    """Holds the serving :class:`RoutingModel` of ``name`` (and its dispatcher, from
    ``dispatch``) and keeps it in step with the registry's active pointer."""

    def __init__(
        self,
        registry: Registry,
        name: str,
        *,
        interval: float = 1.0,
        dispatch: DispatchConfig | None = None,
    ) -> None:
        self.registry = registry
        self.name = name
        self.interval = interval
        self.dispatch = dispatch
        self.serving: Serving | None = None
        self.last_failure: SwapFailure | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_attempt = threading.Event()

    @property
    def model(self) -> RoutingModel | None:
        """The serving model (read :attr:`serving` once for the model and its dispatcher)."""
        serving = self.serving
        return serving.model if serving is not None else None

    def _dispatcher_for(self, labels: list[str], version: str) -> Dispatcher | None:
        """The dispatcher for a model with ``labels``, or the reason it cannot serve."""
        if self.dispatch is None:
            return None
        try:
            return self.dispatch.load(labels=labels)
        except Exception as error:
            raise ModelIntegrityError(
                f"{self.name}@{version} cannot be dispatched with the configured files: {error}"
            ) from error

    def _check_fits(self, version: str) -> None:
        """Refuse ``version`` before the pointer moves when the files do not fit its labels
        (from its manifest: nothing is unpickled)."""
        if self.dispatch is None:
            return
        try:
            labels = self.registry.manifest(self.name, version).get("labels", [])
        except AppealRouterError:
            return  # no such version, or a damaged one: activation says so in its words
        self._dispatcher_for(list(labels), version)

    def refresh(self) -> RoutingModel | None:
        """Load the active version if it is not the one serving; return the serving model.

        Never raises for a missing or corrupt model: the failure is recorded and logged, and
        whatever served before keeps serving.
        """
        with self._lock:
            return self._refresh()

    def activate(self, version: str) -> ActivePointer:
        """Activate ``version`` (:meth:`Registry.activate_and_load`: verified, loaded and
        tried, or refused with the error) and serve the model that activation loaded. The
        lock is held throughout, so the watcher, seeing the pointer move, finds the version
        already serving instead of loading it again."""
        with self._lock:
            self._check_fits(version)
            pointer, model = self.registry.activate_and_load(self.name, version)
            self._refresh(loaded=model)
        return pointer

    def rollback(self) -> ActivePointer:
        """Roll back (:meth:`Registry.rollback_and_load`) and serve the model it loaded, as
        :meth:`activate` does."""
        with self._lock:
            if self.dispatch is not None:
                try:
                    active = self.registry.active(self.name)
                except ModelIntegrityError:
                    active = None  # rollback_and_load says why it cannot roll back
                if active is not None and active.history:
                    self._check_fits(active.history[-1])
            pointer, model = self.registry.rollback_and_load(self.name)
            self._refresh(loaded=model)
        return pointer

    def _refresh(self, *, loaded: RoutingModel | None = None) -> RoutingModel | None:
        """:meth:`refresh` with the lock held. ``loaded``: a model the registry has just
        loaded and tried, served as it is if it is the version the pointer names now (if the
        pointer moved again meanwhile, the version it names is loaded as usual)."""
        stamp = self.registry.pointer_stamp(self.name)
        wanted: str | None = None
        try:
            wanted = self.registry.active_version(self.name)
            current = self.model
            if current is None or current.version != wanted:
                started = time.perf_counter()
                if loaded is not None and loaded.version == wanted:
                    model = loaded
                else:
                    model = self.registry.load(self.name, wanted)
                model.warm_up()
                dispatcher = self._dispatcher_for(model.labels, wanted)
                if dispatcher is not None:  # its first ticket as fast as the next ones
                    model.classify(["预热：燃气泄漏，小区停水"], dispatcher=dispatcher)
                self.serving = Serving(model, dispatcher)  # the swap: one reference assignment
                _freeze_heap()
                metrics.model_swapped(self.name, current, model)
                logger.info(
                    "model loaded",
                    extra={
                        "event": "model_loaded",
                        "model_name": self.name,
                        "model_version": wanted,
                        "previous_version": current.version if current else None,
                        "seconds": round(time.perf_counter() - started, 3),
                    },
                )
            self.last_failure = None
        except Exception as error:
            # Verification errors, but also a pickle that does not fit this code or a
            # model that fails its warm-up: whatever it is, the old model keeps serving.
            failure = SwapFailure(version=wanted, reason=str(error))
            if failure != self.last_failure:
                logger.error(
                    "model refused, the previous one keeps serving",
                    extra={
                        "event": "model_refused",
                        "model_name": self.name,
                        "model_version": wanted,
                        "serving_version": self.model.version if self.model else None,
                        "reason": str(error),
                    },
                )
            self.last_failure = failure
        self._stamp = stamp
        self._first_attempt.set()
        return self.model

    def wait_first_load(self, timeout: float) -> bool:
        """Block until the first load has succeeded or failed (at most ``timeout`` seconds);
        whether it has ended."""
        return self._first_attempt.wait(timeout)

    # ------------------------------------------------------------------ the watcher
    def start(self) -> None:
        """Load the active version now and then poll the pointer every ``interval`` seconds,
        in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _watch(self) -> None:
        self._check()
        while not self._stop.wait(self.interval):
            self._check()

    def _check(self) -> None:
        try:
            stamp = self.registry.pointer_stamp(self.name)
            # Reload when the pointer moved, or retry while nothing serves yet.
            if stamp != self._stamp or self.model is None:
                self.refresh()
        except Exception:  # the watcher must outlive any surprise
            logger.exception("model watcher failed; retrying", extra={"event": "watch_error"})
            self._first_attempt.set()
