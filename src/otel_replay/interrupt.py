"""Stop a run cleanly on Ctrl-C: stop reading, let the batch in flight finish, and still account for everything."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interruption"]

logger = logging.getLogger(__name__)


class Interruption:
    """Turns the first SIGINT into a request to stop, and a second one into KeyboardInterrupt.

    Outside a `shield()` block the first SIGINT raises KeyboardInterrupt at once, because
    reading has no effect outside the process. Inside one, which covers sending a batch and
    recording it in the ledger, the first SIGINT only sets `requested`: the request in flight
    may finish, retries stop, and KeyboardInterrupt is raised when the block ends. Outside
    `installed()` (the API, other threads) SIGINT keeps its handler and `requested` stays False.
    """

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._shielded = 0

    @property
    def requested(self) -> bool:
        """True once the user asked to stop."""
        return self._requested.is_set()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT during the block, then restore the previous handler.

        Only the main thread can set signal handlers; in other threads this does nothing.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def wait(self, seconds: float) -> bool:
        """Sleep for `seconds`, ending early when the user asks to stop; return True in that case."""
        return self._requested.wait(seconds)

    @contextmanager
    def shield(self) -> Iterator[None]:
        """Delay a first SIGINT until the block ends, so that a batch in flight can finish."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1
        if self.requested and not self._shielded:
            raise KeyboardInterrupt

    def request_stop(self) -> None:
        """Act on a Ctrl-C: raise KeyboardInterrupt now, unless a first one arrives inside `shield()`."""
        if self.requested or not self._shielded:
            self._requested.set()
            raise KeyboardInterrupt
        self._requested.set()
        logger.warning("Interrupted: finishing the request in flight; press Ctrl-C again to abandon it")

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.request_stop()
