"""Results remembered between requests: the one policy behind the context builder's caches.

Front ends ask for the context of the same buffer again and again (every
keystroke of a completion, every edit of a session), so :mod:`amigo.context.build`
remembers what is costly to recompute and cheap to keep. Each such cache is a
pure function of its arguments wrapped with :func:`remembered`: bounded (the
least recently used result goes first) and, for answers the outside world can
change behind our back (git's), kept at most ``ttl_s`` seconds. A call that
raises is not remembered.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, ParamSpec, TypeVar, cast

P = ParamSpec("P")
R = TypeVar("R")


def remembered(maxsize: int, ttl_s: float | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pure function so its last ``maxsize`` results are remembered (each for at
    most ``ttl_s`` seconds when given). The wrapper has ``cache_clear()``."""
    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        if ttl_s is None:  # functools' C implementation: the hot paths call it thousands of times
            return cast(Callable[P, R], functools.lru_cache(maxsize=maxsize)(fn))
        return cast(Callable[P, R], _Timed(fn, maxsize, ttl_s))
    return wrap


class _Timed(Generic[R]):
    """An LRU map of positional arguments to results that expire ``ttl_s`` after they were made."""

    def __init__(self, fn: Callable[..., R], maxsize: int, ttl_s: float) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._maxsize = maxsize
        self._ttl_s = ttl_s
        self._results: OrderedDict[tuple[Hashable, ...], tuple[float, R]] = OrderedDict()
        self._lock = threading.Lock()  # front ends ask from several threads

    def __call__(self, *args: Hashable) -> R:
        now = time.monotonic()
        with self._lock:
            found = self._results.get(args)
            if found is not None and now - found[0] < self._ttl_s:
                self._results.move_to_end(args)
                return found[1]
        result = self._fn(*args)  # outside the lock: two threads may both make it, harmlessly
        with self._lock:
            self._results[args] = (now, result)
            self._results.move_to_end(args)
            while len(self._results) > self._maxsize:
                self._results.popitem(last=False)
        return result

    def cache_clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._results.clear()
