"""Answers that went into a loop: the engine stops reading them instead of waiting for the token limit.

A small model that loses its way writes one line (or two or three in turn)
over and over, or one fragment over and over within a line, until
``max_tokens`` ends it, and a round waits for it to the end. :class:`LoopWatch`
tells, as the answer streams, that it is looping, so the engine can stop it
there.

Code repeats itself too (a table of zeros, a row of ``)``), so the rule is
strict, and only a repetition the file being edited does not hold counts: a
line counts when the answer's last lines hold it more often than the whole
file does, a fragment when the file holds no run of it as long. On the answers
of the embedded model's slowest refused tasks it stops 3 of the 25 that ran
into ``max_tokens`` (benchmarks/RESULTS.md, "Answers stopped once reading on
cannot help"): the others wander rather than repeat.
"""

from __future__ import annotations

import collections

LINES = 12  # the last non-blank lines judged together
MOST_DISTINCT = 3  # a loop: those lines are no more than this many different ones
FRAGMENT_RUN = 160  # a loop within a line: its last this many characters repeat one fragment...
LONGEST_FRAGMENT = 40  # ...of at most this many characters...
FEWEST_REPEATS = 8  # ...at least this many times


class LoopWatch:
    """Judges an answer as it streams: :meth:`looping` gives what it repeats, or None.

    ``source``: the text being edited (what the answer may rightly repeat).
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._source_lines = collections.Counter(line.strip() for line in source.splitlines() if line.strip())

    def looping(self, answer: str) -> str | None:
        """The line or fragment ``answer`` keeps repeating at its end, when it is a loop; else None.

        Cheap enough to ask at every streamed piece: it reads only the end of the answer.
        """
        return self._repeated_line(answer) or self._repeated_fragment(answer)

    def _repeated_line(self, answer: str) -> str | None:
        end = answer.rfind("\n")  # the line being written is not judged yet
        tail: list[str] = []
        for line in reversed(answer[max(0, end - LINES * 400): end].splitlines()):
            if line.strip():
                tail.append(line.strip())
                if len(tail) == LINES:
                    break
        if len(tail) < LINES:
            return None
        counts = collections.Counter(tail)
        if len(counts) > MOST_DISTINCT:
            return None
        line, times = counts.most_common(1)[0]
        return line if times > self._source_lines[line] else None

    def _repeated_fragment(self, answer: str) -> str | None:
        current = answer[answer.rfind("\n") + 1:]
        if len(current) < FRAGMENT_RUN:
            return None
        run = current[-FRAGMENT_RUN:]
        for width in range(1, LONGEST_FRAGMENT + 1):
            if FRAGMENT_RUN // width < FEWEST_REPEATS:
                break
            if run[width:] == run[:-width]:  # the run has period ``width``
                fragment = run[-width:]
                return None if run in self._source else fragment
        return None
