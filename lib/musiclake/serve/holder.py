"""The served model, swapped for a newly trained version without a restart and without a failed request.

Requests call :meth:`ModelHolder.get`, which returns the current :class:`~musiclake.serve.model.Model` (an
immutable object: a request keeps the model it started with to the end). At most every ``check_interval``
seconds, ``get`` also starts a background check of the lake's ``LATEST`` pointer; when it names another version,
that version is loaded beside the serving one and then swapped in by one reference assignment (atomic in
CPython). A version that fails to load is logged and retried at the next check; the old model keeps answering.
During the load both versions are in memory.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from musiclake.serve import layout
from musiclake.serve.model import Model, release_freed_memory

log = logging.getLogger("musiclake.serve.holder")


class NoModelError(RuntimeError):
    """There is no model to serve (none trained yet, or the first load failed); the message says why."""


def load_in_child(lake_path: str, model_path: str | None = None) -> Model:
    """Load a model in a child process (``python -m musiclake.serve.load``) and receive it pickled.

    The load reads Parquet and Delta through pyarrow and delta-rs: their libraries, thread pools and the load's
    temporaries (together about twice the model at 200k tracks x rank 64) stay in the child, which exits. The
    serving process holds only the model's numpy arrays. The child's log goes to this process's stderr.

    Raises
    ------
    FileNotFoundError
        If there is no trained model or a part of it is missing (the message says which).
    RuntimeError
        If the load failed otherwise, or the child died (its log says why).
    """
    argv = [sys.executable, "-m", "musiclake.serve.load", lake_path, *([model_path] if model_path else [])]
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as child:  # the model's own files: a trusted pickle
        try:
            outcome = pickle.load(child.stdout)
        except (EOFError, pickle.UnpicklingError):
            outcome = None
        status = child.wait()
    release_freed_memory()  # the pickle's read buffers
    if outcome is None or status != 0:
        raise RuntimeError(f"loading the model under {lake_path} in a child process failed (exit {status}); "
                           "its log is above")
    if outcome[0] == "error":
        _, kind, message = outcome
        raise (FileNotFoundError if kind == "FileNotFoundError" else RuntimeError)(message)
    return outcome[1]


class ModelHolder:
    """Holds the served model and replaces it when the lake's ``LATEST`` pointer moves.

    Parameters
    ----------
    lake_path
        The lake root the model and its ``LATEST`` pointer live under.
    model_path
        Serve this model folder and never swap (``musiclake serve --model``).
    check_interval
        Least seconds between two checks of the pointer (0: at every request).
    loader
        Loads a model (``lake_path, model_path -> Model``); default :func:`load_in_child`. Tests pass a counting
        one.
    """

    def __init__(
        self,
        lake_path: str,
        *,
        model_path: str | None = None,
        check_interval: float = 30.0,
        loader: Callable[[str, str | None], Model] | None = None,
    ) -> None:
        self.lake_path = lake_path
        self.model_path = model_path
        self.check_interval = check_interval
        self._loader = loader or load_in_child
        self._model: Model | None = None
        self._error: str | None = None
        self._last_check = float("-inf")
        self._load_lock = threading.Lock()
        self._checking = threading.Lock()
        self.swaps = 0

    @property
    def current(self) -> Model | None:
        """The model being served (None before the first successful load)."""
        return self._model

    def get(self) -> Model:
        """The model to answer with; triggers a background check of ``LATEST`` when one is due.

        Raises
        ------
        NoModelError
            If no model could be loaded yet (the message says why).
        """
        model = self._model
        if model is None:
            return self.load()
        if self.model_path is None and time.monotonic() - self._last_check >= self.check_interval:
            self._start_check()
        return model

    def load(self) -> Model:
        """Load the latest model now if none is served yet (the first request or start-up); the served one else.

        A failed load is not retried before ``check_interval`` has passed: until then the same error is raised at
        once (no model loaded on every request while the lake has none, or a broken one).
        """
        with self._load_lock:
            if self._model is None and self._error and time.monotonic() - self._last_check < self.check_interval:
                raise NoModelError(self._error)
            if self._model is None:
                self._last_check = time.monotonic()
                try:
                    self._model = self._loader(self.lake_path, self.model_path)
                    self._error = None
                except Exception as error:  # no model, or a broken one: answered as 503 until one loads
                    self._error = " ".join(str(error).split()) or type(error).__name__
                    raise NoModelError(self._error) from error
        return self._model

    def refresh(self) -> bool:
        """Check ``LATEST`` and swap in the version it names if that is not the served one; True if swapped.

        Raises
        ------
        NoModelError
            If nothing is served and the latest model cannot be loaded.
        """
        if self._model is None:
            self.load()
            return True
        if self.model_path is not None:
            return False
        with self._load_lock:
            self._last_check = time.monotonic()
            folder = layout.latest_folder(self.lake_path)
            if folder == self._model.folder:
                return False
            log.info("model %s appeared: loading it beside %s", folder, self._model.folder)
            fresh = self._loader(self.lake_path, None)
            self._model = fresh  # the swap: later requests get the new model, running ones keep theirs
            self.swaps += 1
            log.info("now serving model %s", fresh.version)
            return True

    def _start_check(self) -> None:
        if not self._checking.acquire(blocking=False):
            return  # a check is running
        self._last_check = time.monotonic()

        def check() -> None:
            try:
                self.refresh()
            except Exception:  # logged; the served model keeps answering, and the next check retries
                log.exception("checking for a new model under %s failed", self.lake_path)
            finally:
                self._checking.release()

        threading.Thread(target=check, name="musiclake-model-check", daemon=True).start()
