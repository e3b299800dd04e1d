"""Fuzzy file matching for the finder: a subsequence match scored like editors do."""

from __future__ import annotations

SEPARATORS = "/_-. "


def fuzzy_score(query: str, candidate: str) -> tuple[int, tuple[int, ...]] | None:
    """Score ``candidate`` against ``query`` (higher is better) and the matched positions.

    Every query character must appear in order (case-insensitive). Bonuses go
    to consecutive characters, characters after a separator and matches in
    the file name; long paths lose a little. None when it does not match.
    """
    if not query:
        return 0, ()
    low = candidate.lower()
    base = low.rfind("/") + 1
    positions: list[int] = []
    start = 0
    for ch in query.lower():
        if ch == " ":
            continue
        found = low.find(ch, start)
        if found < 0:
            return None
        positions.append(found)
        start = found + 1
    # Prefer a match that starts inside the file name when the rest still fits there.
    name_positions = _match_from(low, query.lower().replace(" ", ""), base)
    if name_positions is not None:
        positions = name_positions
    score = 0
    previous = -2
    for pos in positions:
        score += 1
        if pos == previous + 1:
            score += 5
        if pos == 0 or low[pos - 1] in SEPARATORS:
            score += 3
        if pos >= base:
            score += 2
        previous = pos
    score -= len(candidate) // 16
    return score, tuple(positions)


def _match_from(low: str, query: str, start: int) -> list[int] | None:
    positions = []
    for ch in query:
        found = low.find(ch, start)
        if found < 0:
            return None
        positions.append(found)
        start = found + 1
    return positions


def fuzzy_filter(query: str, paths: list[str], limit: int = 50) -> list[tuple[str, tuple[int, ...]]]:
    """The best ``limit`` matches, best first (ties: shorter path, then alphabetical)."""
    scored = []
    for path in paths:
        result = fuzzy_score(query, path)
        if result is not None:
            scored.append((-result[0], len(path), path, result[1]))
    scored.sort()
    return [(path, positions) for _, _, path, positions in scored[:limit]]
