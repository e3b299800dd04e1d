"""Several candidate answers from one request, so the server evaluates their prompt once.

Candidates of one round mostly send the same conversation with the same
sampling and differ only in their seed. Asked for as separate requests, each
lands in a slot of its own on llama-server, and every slot evaluates the whole
prompt (thousands of tokens of repository context, the file and the
instruction): on a CPU that costs more than the answers. Asked for as one
request with OpenAI's ``n``, llama-server evaluates the prompt once and copies
it into a slot per answer, each sampling with ``seed`` + its index; vLLM shares
the prefix likewise. Measured with the embedded model on 2 cores:
benchmarks/RESULTS.md, "One prompt for several candidates".

:func:`group_asks` decides which candidates share a request;
:class:`SharedPrompt` reads its one stream and hands each candidate its own
pieces, so the engine reads each candidate exactly as if it had its own stream.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Generator, Sequence

from amigo.client import Cancelled, ChatClient, StreamStats
from amigo.errors import ModelServerError

if TYPE_CHECKING:
    from amigo.engine import CandidateAsk


def group_asks(asks: Sequence["CandidateAsk"]) -> tuple[list["CandidateAsk"], list[list[int]]]:
    """(the asks, each seed set to what the server will use; groups of indexes that share one request).

    Asks with the same conversation and the same sampling but the seed share a
    request; the server gives the group's k-th answer the first member's seed
    plus k, so that is the seed each member records.
    """
    by_key: dict[str, list[int]] = {}  # insertion-ordered: groups in the order of their first member
    for k, ask in enumerate(asks):
        key = repr((ask.messages, sorted((n, repr(v)) for n, v in ask.params.items() if n != "seed")))
        by_key.setdefault(key, []).append(k)
    groups = list(by_key.values())
    out = list(asks)
    for group in groups:
        first = asks[group[0]].params.get("seed")
        if first is None:
            continue
        for position, k in enumerate(group[1:], start=1):
            out[k] = replace(asks[k], params={**asks[k].params, "seed": int(first) + position})
    return out, groups


_CLOSED_POLL_S = 0.5  # how often a candidate waiting for its next piece looks whether the client was closed


@dataclass
class _End:
    error: BaseException | None = None


class SharedPrompt:
    """One request for ``n`` candidates: a reader thread hands each choice's pieces to its candidate.

    The stream is closed (which stops the server) once no candidate reads any
    more, or ``stop`` is set; a candidate stops reading by closing its
    :meth:`pieces` iterator. An error ends every candidate's iterator with it.
    """

    def __init__(self, client: ChatClient, ask: "CandidateAsk", n: int, cancel: threading.Event | None,
                 stop: threading.Event, on_ignored_n: Callable[[], None] | None = None) -> None:
        self.stats = [StreamStats() for _ in range(n)]
        self._client = client
        self._on_ignored_n = on_ignored_n
        self._queues: list[queue.Queue] = [queue.Queue() for _ in range(n)]
        self._wanted = [True] * n
        self._stop = stop
        self._ended_early = False  # closed because nobody read on (or the round stopped), not at its end
        self._thread = threading.Thread(target=self._read, args=(client, ask, cancel), daemon=True,
                                        name="amigo-shared-prompt")
        self._thread.start()

    def _read(self, client: ChatClient, ask: "CandidateAsk", cancel: threading.Event | None) -> None:
        error: BaseException | None = None
        ended = [False] * len(self._queues)
        stream = client.stream_choices(ask.messages, len(self._queues), cancel=cancel, stats=self.stats,
                                       **ask.params)
        try:
            for index, text in stream:
                if index < len(self._queues) and self._wanted[index]:
                    self._queues[index].put(text)
                for k, stats in enumerate(self.stats):  # a choice that finished ends now, not with the longest one
                    if stats.finish_reason is not None and not ended[k]:
                        ended[k] = True
                        self._queues[k].put(_End())
                if self._stop.is_set() or not any(w and not e for w, e in zip(self._wanted, ended)):
                    self._ended_early = not all(ended)
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to every candidate
            error = exc
        finally:
            stream.close()
            for k, q in enumerate(self._queues):
                if not ended[k]:
                    q.put(_End(error))
            if error is None and self._ignored_n() and self._on_ignored_n is not None:
                self._on_ignored_n()

    def pieces(self, k: int) -> Generator[str, None, None]:
        """Candidate ``k``'s text deltas; closing the iterator says it reads no more."""
        try:
            while True:
                try:
                    item = self._queues[k].get(timeout=_CLOSED_POLL_S)
                except queue.Empty:
                    # the reader may sit in a read that closing the client cannot wake (a server
                    # yet to send its headers): the candidate need not wait for it
                    if self._client.closed:
                        raise Cancelled("the client was closed while the answer streamed") from None
                    continue
                if isinstance(item, _End):
                    if item.error is not None:
                        error = item.error
                        raise type(error)(str(error)) if isinstance(error, ModelServerError) else error
                    return
                yield item
        finally:
            self._wanted[k] = False

    def _ignored_n(self) -> bool:
        """Whether the server answered only the first choice (an older server that ignores ``n``)."""
        return (not self._ended_early and self.stats[0].chunks > 0
                and all(s.chunks == 0 and s.finish_reason is None for s in self.stats[1:]))
