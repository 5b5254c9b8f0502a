"""The model clock: every time the emulator records or compares comes from here, so tests can move time."""

import contextlib
import datetime
import threading
import time


class Clock:
    """Real time plus an offset that tests may advance or set; ``reset_to_real`` drops the offset."""

    def __init__(self):
        self._offset = 0.0
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the model sees them."""
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    @contextlib.contextmanager
    def frozen_at(self, when: float):
        """Hold the clock still at ``when``: replaying a journaled operation must see the time it first saw."""
        previous, self._frozen = self._frozen, when
        try:
            yield
        finally:
            self._frozen = previous

    def now_datetime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.now(), datetime.timezone.utc)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def set(self, when: datetime.datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        with self._lock:
            self._offset = when.timestamp() - time.time()

    def reset_to_real(self) -> None:
        with self._lock:
            self._offset = 0.0
