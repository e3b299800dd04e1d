"""Applying one SEARCH/REPLACE block, in tiers: exact, whitespace, elision, fuzzy.

Every tier produces an *alignment* (pairs of SEARCH line, file line) and the
new region is rebuilt from it: lines the block keeps (SEARCH == REPLACE) are
copied from the FILE, with the file's own whitespace and endings, and only
changed lines come from REPLACE, re-indented by the detected drift. A file
line the SEARCH left out (a dropped blank line) is kept unless it sits among
changed lines. Ambiguity is always an error, never a guess.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import islice
from typing import Iterator

from amigo.edits.lines import indent_of, key, keys_of, newline_of, split_lines, strip_terminator
from amigo.edits.model import EditBlock, EditError
from amigo.edits.sequence import opcodes as line_opcodes

FUZZY_THRESHOLD = 0.9
FUZZY_MAX_WINDOWS = 400  # distinct windows compared, at most
FUZZY_WORK = 20_000_000  # and their characters, len(window) * len(SEARCH) summed (0.2-1.5 s)
FUZZY_SCAN = 400_000  # file lines walked and joined looking for windows
MAX_PLACES = 50  # matches counted before a SEARCH is called ambiguous without counting on
_ELISION_RE = re.compile(r"(?:\.\.\.|…)|(?:#|//|--|;|/\*|<!--|\*)\s*(?:\.\.\.|…).*")

Indent = tuple[str, str]  # (prefix removed from SEARCH/REPLACE lines, prefix added)


@dataclass(frozen=True)
class Match:
    """Where a SEARCH text sits: aligned (search index, file index) pairs, ascending."""

    pairs: tuple[tuple[int, int], ...]
    indent: Indent
    tier: str

    @property
    def start(self) -> int:
        return self.pairs[0][1]

    @property
    def end(self) -> int:
        return self.pairs[-1][1] + 1


def _label(block_index: int | None, path: str | None) -> str:
    n = f"Block {block_index + 1}" if block_index is not None else "The block"
    return f"{n} ({path})" if path else n


# ---------------------------------------------------------------- locating


def occurrences(seq: list[str], pattern: list[str], lo: int = 0, hi: int | None = None) -> Iterator[int]:
    """Start indices where ``pattern`` occurs item for item in ``seq[lo:hi]``, in order.

    The candidates are the places of the pattern's rarest line (of its few longest),
    found by list.index, so a file of repeated lines costs a scan, not a comparison
    of the whole pattern at every line; a caller that needs only a few stops early.
    """
    hi = len(seq) if hi is None else hi
    k = len(pattern)
    if not k or hi - lo < k:
        return
    window = seq if (lo, hi) == (0, len(seq)) else seq[lo:hi]
    longest = sorted(range(k), key=lambda t: -len(pattern[t]))[:4]
    off = min(longest, key=lambda t: window.count(pattern[t]))
    anchor = pattern[off]
    i = lo + off - 1
    while True:
        try:
            i = seq.index(anchor, i + 1, hi - (k - 1 - off))
        except ValueError:
            return
        if seq[i - off : i - off + k] == pattern:
            yield i - off


def find_exact(
    fkeys: list[str], skeys: list[str], lo: int = 0, hi: int | None = None, limit: int | None = None
) -> list[int]:
    """Start indices where ``skeys`` occurs line for line in ``fkeys[lo:hi]`` (the first ``limit``)."""
    return list(islice(occurrences(fkeys, skeys, lo, hi), limit))


def _indent_delta(fkeys: list[str], skeys: list[str], pairs: list[tuple[int, int]]) -> Indent | None:
    """The one prefix change that maps every SEARCH indentation onto the file's, if any."""
    pairs = [(s, f) for s, f in pairs if skeys[s].strip()]
    if not pairs:
        return ("", "")
    s0, f0 = indent_of(skeys[pairs[0][0]]), indent_of(fkeys[pairs[0][1]])
    if f0.endswith(s0):
        delta = ("", f0[: len(f0) - len(s0)])
    elif s0.endswith(f0):
        delta = (s0[: len(s0) - len(f0)], "")
    else:
        return None
    for s, f in pairs:
        if _shift(indent_of(skeys[s]), delta) != indent_of(fkeys[f]):
            return None
    return delta


def _shift(indent: str, delta: Indent) -> str | None:
    remove, add = delta
    return add + indent[len(remove) :] if indent.startswith(remove) else None


def _pair_blanks(fkeys: list[str], skeys: list[str], pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Also align blank SEARCH lines with blank file lines inside and around the matched run."""
    out: list[tuple[int, int]] = []
    # leading blanks: SEARCH lines before the first pair vs file lines just above it
    s_first, f_first = pairs[0]
    s, f = s_first - 1, f_first - 1
    lead = []
    while s >= 0 and f >= 0 and not skeys[s].strip() and not fkeys[f].strip():
        lead.append((s, f))
        s, f = s - 1, f - 1
    out.extend(reversed(lead))
    for (ps, pf), (qs, qf) in zip(pairs, pairs[1:] + [(None, None)]):
        out.append((ps, pf))
        if qs is None:
            s, f = ps + 1, pf + 1
            while s < len(skeys) and f < len(fkeys) and not skeys[s].strip() and not fkeys[f].strip():
                out.append((s, f))
                s, f = s + 1, f + 1
            continue
        # blank lines at both ends of the gap pair up, outside in
        s_lo, f_lo, s_hi, f_hi = ps + 1, pf + 1, qs - 1, qf - 1
        head, tail = [], []
        while s_lo <= s_hi and f_lo <= f_hi and not skeys[s_lo].strip() and not fkeys[f_lo].strip():
            head.append((s_lo, f_lo))
            s_lo, f_lo = s_lo + 1, f_lo + 1
        while s_lo <= s_hi and f_lo <= f_hi and not skeys[s_hi].strip() and not fkeys[f_hi].strip():
            tail.append((s_hi, f_hi))
            s_hi, f_hi = s_hi - 1, f_hi - 1
        out.extend(head + tail[::-1])
    return out


def find_whitespace(
    fkeys: list[str], skeys: list[str], lo: int = 0, hi: int | None = None, limit: int | None = None
) -> list[Match]:
    """Matches that ignore trailing spaces, blank-line differences and a uniform indent drift
    (the first ``limit`` of them)."""
    hi = len(fkeys) if hi is None else hi
    s_nb = [s for s, line in enumerate(skeys) if line.strip()]
    if not s_nb:
        return []
    target = [skeys[s].strip() for s in s_nb]
    f_nb = [f for f in range(lo, hi) if fkeys[f].strip()]
    f_strip = [fkeys[f].strip() for f in f_nb]
    n = len(target)
    found: list[Match] = []
    for p in occurrences(f_strip, target):
        pairs = list(zip(s_nb, f_nb[p : p + n]))
        delta = _indent_delta(fkeys, skeys, pairs)
        if delta is None:
            continue
        full = [(s, f) for s, f in _pair_blanks(fkeys, skeys, pairs) if lo <= f < hi]
        found.append(Match(tuple(full), delta, "whitespace"))
        if limit is not None and len(found) >= limit:
            break
    return found


def _pair_substitutions(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where SEARCH and file each have the same number of unmatched lines between two
    matched ones, those lines are the model's misspellings of the file's: pair them."""
    out: list[tuple[int, int]] = []
    for (ps, pf), (qs, qf) in zip(pairs, pairs[1:]):
        out.append((ps, pf))
        if qs - ps == qf - pf and qs - ps > 1:
            out.extend((ps + t, pf + t) for t in range(1, qs - ps))
    out.append(pairs[-1])
    return out


def _exact_match(start: int, k: int) -> Match:
    return Match(tuple((s, start + s) for s in range(k)), ("", ""), "exact")


def _locate(fkeys: list[str], skeys: list[str]) -> list[Match]:
    """The exact matches, or failing that the whitespace-tolerant ones (MAX_PLACES + 1 at most)."""
    exact = find_exact(fkeys, skeys, limit=MAX_PLACES + 1)
    if exact:
        return [_exact_match(i, len(skeys)) for i in exact]
    return find_whitespace(fkeys, skeys, limit=MAX_PLACES + 1)


def _norm(lines: list[str]) -> str:
    return "\n".join(line.strip() for line in lines if line.strip())


class FuzzyGaveUp(Exception):
    """The fuzzy tier would have had to compare more windows than its bounds allow."""


def find_fuzzy(fkeys: list[str], skeys: list[str]) -> list[Match]:
    """Windows whose first and last non-blank lines equal the SEARCH's and whose text is
    at least FUZZY_THRESHOLD similar.

    The work is bounded (FUZZY_SCAN lines walked, FUZZY_MAX_WINDOWS distinct windows,
    FUZZY_WORK characters compared; equal windows are compared once): past a bound it
    raises FuzzyGaveUp rather than answer from the windows seen so far, which could
    call a match unique that is not.
    """
    s_nb = [s for s, line in enumerate(skeys) if line.strip()]
    if len(s_nb) < 3 or sum(len(skeys[s].strip()) for s in s_nb) < 24:
        return []
    first, last = skeys[s_nb[0]].strip(), skeys[s_nb[-1]].strip()
    want = _norm(skeys)
    slack = max(2, len(s_nb) // 5)
    starts = [i for i, line in enumerate(fkeys) if line.strip() == first]
    scored: list[tuple[float, int, int]] = []
    ratios: dict[str, float] = {}
    scan, work = FUZZY_SCAN, FUZZY_WORK
    for i in starts:
        nb = 0
        for e in range(i, len(fkeys)):
            scan -= 1
            if fkeys[e].strip():
                nb += 1
            if nb > len(s_nb) + slack:
                break
            if nb < len(s_nb) - slack or fkeys[e].strip() != last:
                continue
            scan -= e + 1 - i
            text = _norm(fkeys[i : e + 1])
            if text not in ratios:
                work -= len(text) * len(want)
                if len(ratios) >= FUZZY_MAX_WINDOWS or work < 0:
                    raise FuzzyGaveUp
                ratios[text] = _similarity(text, want)
            if ratios[text] >= FUZZY_THRESHOLD:
                scored.append((ratios[text], i, e + 1))
            if scan < 0:
                raise FuzzyGaveUp
        if scan < 0:
            raise FuzzyGaveUp
    matches = []
    stripped = [line.strip() for line in skeys]
    for _, i, e in sorted(scored, reverse=True):
        window = [fkeys[f].strip() for f in range(i, e)]
        pairs = [
            (a1 + t, i + b1 + t)
            for tag, a1, a2, b1, _ in line_opcodes(stripped, window) if tag == "equal"
            for t in range(a2 - a1) if skeys[a1 + t].strip()
        ]
        if not pairs or pairs[0][0] != s_nb[0] or pairs[-1][0] != s_nb[-1]:
            continue
        delta = _indent_delta(fkeys, skeys, pairs)
        if delta is None:
            continue
        matches.append(Match(tuple(_pair_substitutions(_pair_blanks(fkeys, skeys, pairs))), delta, "fuzzy"))
        if len(matches) > MAX_PLACES:
            break
    return matches


def _similarity(window: str, want: str) -> float:
    """SequenceMatcher's ratio, after its two cheap upper bounds (0.0 when they rule it out)."""
    sm = SequenceMatcher(None, window, want, autojunk=False)
    if sm.real_quick_ratio() < FUZZY_THRESHOLD or sm.quick_ratio() < FUZZY_THRESHOLD:
        return 0.0
    return sm.ratio()


# ---------------------------------------------------------------- rebuilding


def _reindent(line: str, delta: Indent) -> str:
    if delta == ("", ""):
        return line
    if not line.strip():
        return ""
    indent = indent_of(line)
    shifted = _shift(indent, delta)
    if shifted is None:  # less indented than the drift: remove what there is of it
        remove, add = delta
        common = 0
        while common < min(len(indent), len(remove)) and indent[common] == remove[common]:
            common += 1
        shifted = add + indent[common:]
    return shifted + line.lstrip()


class AmbiguousGap(Exception):
    """Lines missing on one side (file or SEARCH) sit right where REPLACE changes lines."""

    def __init__(self, first: int, last: int, extra_in_search: bool = False) -> None:
        super().__init__(first, last)
        self.first, self.last, self.extra_in_search = first, last, extra_in_search


def _blank_gaps(fkeys: list[str], match: Match) -> dict[int, list[int]]:
    """SEARCH line s -> the file's blank lines between it and SEARCH line s + 1, where
    the file has only blank lines there: the lines a careless copy of SEARCH lost."""
    return {
        s: list(range(f + 1, g))
        for (s, f), (t, g) in zip(match.pairs, match.pairs[1:])
        if t == s + 1 and g > f + 1 and not any(fkeys[x].strip() for x in range(f + 1, g))
    }


def restore_blanks(
    fkeys: list[str], skeys: list[str], rkeys: list[str], match: Match
) -> tuple[list[str], list[str], Match] | None:
    """SEARCH, REPLACE and the match with the file's blank lines put back where SEARCH
    lost them, or None when there are none or where they go is not certain.

    Models drop a blank line when copying SEARCH, and write REPLACE either with it
    (only SEARCH lost it) or without it (the same careless copy). The lost lines go
    back into SEARCH. Which of the two happened shows in REPLACE's blank run beside
    the nearest line around it that REPLACE keeps (_replace_runs): a run as long as
    SEARCH's lost the lines too, and gets them back; a run of another length is
    what the model wants there. Elsewhere REPLACE stays as written. Every restored
    line must then be settled (_settled), or the gap stays and rebuild() decides (it
    refuses what it cannot place). The result's non-blank lines are REPLACE's either way.
    """
    gaps = _blank_gaps(fkeys, match)
    if not gaps:
        return None
    new_s: list[str] = []
    pairs: list[tuple[int, int]] = []
    restored: list[int] = []
    fmap = dict(match.pairs)
    for s, line in enumerate(skeys):
        if s in fmap:
            pairs.append((len(new_s), fmap[s]))
        new_s.append(line)
        for f in gaps.get(s, []):
            restored.append(len(new_s))
            pairs.append((len(new_s), f))
            new_s.append(fkeys[f])
    new_r = list(rkeys)
    for s, (at, r_run, s_run) in sorted(_replace_runs(skeys, rkeys, list(gaps)).items(), reverse=True):
        if r_run == s_run:  # REPLACE lost them too
            new_r[at:at] = [fkeys[f] for f in gaps[s]]
    if not _settled(new_s, new_r, restored):
        return None
    return new_s, new_r, Match(tuple(pairs), match.indent, match.tier)


def _settled(skeys: list[str], rkeys: list[str], restored: list[int]) -> bool:
    """Is it certain what becomes of each restored blank SEARCH line? So it is when
    REPLACE keeps it; when the nearest non-blank lines on both sides of it change (it
    goes with that stretch); or when REPLACE has no new non-blank line between the
    nearest kept non-blank lines around it (lines were only deleted next to it, so
    the stretch is REPLACE's either way). Not when new lines sit beside it."""
    image = {
        a: b1 + a - a1 for tag, a1, a2, b1, _ in _loose_opcodes(skeys, rkeys) if tag == "equal" for a in range(a1, a2)
    }
    solid = [t for t, line in enumerate(skeys) if line.strip()]
    kept_solid = [t for t in solid if t in image]
    for s in restored:
        if s in image:
            continue
        at = bisect_left(solid, s)
        if 0 < at < len(solid) and solid[at - 1] not in image and solid[at] not in image:
            continue
        k = bisect_left(kept_solid, s)
        start = image[kept_solid[k - 1]] if k > 0 else -1
        end = image[kept_solid[k]] if k < len(kept_solid) else len(rkeys)
        if any(line.strip() for line in rkeys[start + 1 : end]):
            return False
    return True


def _replace_runs(skeys: list[str], rkeys: list[str], lines: list[int]) -> dict[int, tuple[int, int, int]]:
    """For the blank run of SEARCH around each of ``lines``: (REPLACE line where the same
    run starts, its length in REPLACE, its length in SEARCH), where REPLACE has such a
    run for certain.

    REPLACE's run is the one between the same two non-blank lines (or their
    replacements) with nothing new between them; or, where REPLACE only deletes
    lines around it, the run beside the nearer of those two lines that it keeps.
    """
    s_nb = [t for t, line in enumerate(skeys) if line.strip()]
    r_nb = [t for t, line in enumerate(rkeys) if line.strip()]
    kept: dict[int, int] = {}  # indices into s_nb -> into r_nb
    last_of: dict[int, int] = {}  # the last line of a replacement ending at this line
    first_of: dict[int, int] = {}  # the first line of a replacement starting at it
    for tag, a1, a2, b1, b2 in line_opcodes([skeys[t].rstrip() for t in s_nb], [rkeys[t].rstrip() for t in r_nb]):
        if tag == "equal":
            kept.update((i, b1 + i - a1) for i in range(a1, a2))
        elif b2 > b1:
            last_of[a2 - 1], first_of[a1] = b2 - 1, b1
    kept_at = sorted(kept)
    runs: dict[int, tuple[int, int, int]] = {}
    for s in lines:
        above = bisect_right(s_nb, s) - 1
        if above < 0 or above + 1 >= len(s_nb):
            continue
        s_run = s_nb[above + 1] - s_nb[above] - 1
        rp = kept.get(above, last_of.get(above))
        rq = kept.get(above + 1, first_of.get(above + 1))
        if rp is not None and rq == rp + 1:
            runs[s] = (r_nb[rp] + 1, r_nb[rq] - r_nb[rp] - 1, s_run)
            continue
        k = bisect_right(kept_at, above)
        low = kept[kept_at[k - 1]] if k > 0 else -1
        high = kept[kept_at[k]] if k < len(kept_at) else len(r_nb)
        if high != low + 1:
            continue  # REPLACE has new lines around s: which run is which is unclear
        if above in kept:
            at = r_nb[low] + 1
            runs[s] = (at, (r_nb[high] if high < len(r_nb) else len(rkeys)) - at, s_run)
        elif above + 1 in kept:
            start = r_nb[low] + 1 if low >= 0 else 0
            runs[s] = (start, r_nb[high] - start, s_run)
    return runs


def _loose_opcodes(skeys: list[str], rkeys: list[str]) -> list[tuple[str, int, int, int, int]]:
    """SEARCH -> REPLACE opcodes ignoring trailing spaces (noise outside the exact tier)."""
    return line_opcodes([k.rstrip() for k in skeys], [k.rstrip() for k in rkeys])


def rebuild(
    flines: list[str], fkeys: list[str], skeys: list[str], rkeys: list[str], match: Match, nl: str
) -> list[str]:
    """The raw lines that replace ``flines[match.start:match.end]``.

    Raises AmbiguousGap when file lines missing from SEARCH touch a change
    that adds lines: whether they go before or after the new lines cannot be
    known, and guessing could write the wrong file. Blank lines SEARCH lost
    are put back first (restore_blanks), which settles most such gaps.
    """
    restored = restore_blanks(fkeys, skeys, rkeys, match)
    if restored is not None:
        skeys, rkeys, match = restored
    return _Rebuild(flines, fkeys, skeys, rkeys, match).lines(nl)


class _Rebuild:
    """One region being rebuilt: what REPLACE does to each SEARCH line, and where each
    SEARCH line sits in the file."""

    def __init__(self, flines: list[str], fkeys: list[str], skeys: list[str], rkeys: list[str],
                 match: Match) -> None:
        self.flines, self.fkeys, self.skeys, self.rkeys, self.match = flines, fkeys, skeys, rkeys, match
        if match.tier == "exact":
            self.opcodes = line_opcodes(skeys, rkeys)
        else:  # trailing spaces are noise here, and must not skew which lines the block keeps
            self.opcodes = _loose_opcodes(skeys, rkeys)
        self.op_of: dict[int, str] = {}
        self.inserts: list[int] = []
        for tag, a1, a2, _, _ in self.opcodes:
            for s in range(a1, a2):
                self.op_of[s] = tag
            if tag == "insert":
                self.inserts.append(a1)
        self.changed = {s for s, tag in self.op_of.items() if tag != "equal"}
        self.replaced = {s for s, tag in self.op_of.items() if tag == "replace"}
        self.uneven = {  # replacements that also add or drop lines: they may hide an insertion
            s for tag, a1, a2, b1, b2 in self.opcodes if tag == "replace" and a2 - a1 != b2 - b1
            for s in range(a1, a2)
        }
        self.pairs = list(match.pairs)
        self.fmap = dict(self.pairs)
        order = [s for s, _ in self.pairs]
        self.nxt = {p: q for p, q in zip(order, order[1:])}
        self.prv = {q: p for p, q in zip(order, order[1:])}

    def lines(self, nl: str) -> list[str]:
        """The region's new raw lines: kept lines from the file, changed ones from REPLACE."""
        self._refuse_extra_search_lines()
        fmap, nxt, changed = self.fmap, self.nxt, self.changed
        out: list[str] = []
        for tag, a1, a2, b1, b2 in self.opcodes:
            if tag == "equal":
                for s in range(a1, a2):
                    if s not in fmap:
                        continue
                    p = self.prv.get(s)
                    if p is not None:
                        out.extend(self._gap(p, s))
                    out.append(self._kept(s, b1 + s - a1))
                    q = nxt.get(s)
                    if q is not None and q in changed:
                        out.extend(self._gap(s, q))
            else:
                for s in range(a1, a2):  # gaps inside a deleted run (refused or dropped by _gap())
                    q = nxt.get(s)
                    if s in fmap and q is not None and q in changed:
                        self._gap(s, q)
                out.extend(_reindent(line, self.match.indent) + nl for line in self.rkeys[b1:b2])
        return out

    def _refuse_extra_search_lines(self) -> None:
        """A SEARCH line the file lacks, kept, next to new lines: where they go is unclear."""
        for s in range(len(self.skeys)):
            if s not in self.fmap and s not in self.changed and self._near_new_lines(s, s):
                near = max((f for t, f in self.pairs if t < s), default=self.match.start) + 1
                raise AmbiguousGap(near, near, extra_in_search=True)

    def _loose(self, s: int) -> bool:
        """Blank or deleted: new lines may slide past SEARCH line ``s``."""
        return not self.skeys[s].strip() or self.op_of.get(s) == "delete"

    def _near_new_lines(self, p: int, q: int, all_replacements: bool = True) -> bool:
        """Does REPLACE add lines between SEARCH lines p..q, blank runs around them included?
        Replaced lines count too; with ``all_replacements`` False only those replaced by a
        different number of lines (a line-for-line replacement keeps the lines beside it)."""
        last = len(self.skeys) - 1
        while p > 0 and self._loose(p):
            p -= 1
        while q < last and self._loose(q):
            q += 1
        lo = p - 1 if p == 0 and self._loose(p) else p
        hi = q + 1 if q == last and self._loose(q) else q
        counted = self.replaced if all_replacements else self.uneven
        return any(p <= s <= q for s in counted) or any(lo < a <= hi for a in self.inserts)

    def _gap(self, p: int, q: int) -> list[str]:
        """File lines between aligned SEARCH lines p and q that the block keeps."""
        fmap = self.fmap
        lines = self.flines[fmap[p] + 1 : fmap[q]]
        if not lines or any(s in self.changed for s in range(p + 1, q)):
            return []  # none, or they stand for SEARCH lines the block changes
        if self._near_new_lines(p, q, all_replacements=False) or (p in self.changed and q in self.changed):
            raise AmbiguousGap(fmap[p] + 2, fmap[q])
        return lines

    def _kept(self, s: int, r: int) -> str:
        """The file's line for SEARCH line s; REPLACE's trailing spaces win if it changed them."""
        f = self.fmap[s]
        skeys, rkeys, fkeys, flines = self.skeys, self.rkeys, self.fkeys, self.flines
        if skeys[s] == rkeys[r]:
            return flines[f]
        body = fkeys[f].rstrip()
        return body + rkeys[r][len(rkeys[r].rstrip()) :] + flines[f][len(fkeys[f]) :]


# ---------------------------------------------------------------- elisions


def _is_elision(line: str) -> bool:
    return bool(_ELISION_RE.fullmatch(line.strip()))


def _split_elisions(keys: list[str]) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    for line in keys:
        if _is_elision(line):
            pieces.append([])
        else:
            pieces[-1].append(line)
    return pieces


def _elision_matches(
    fkeys: list[str], spieces: list[list[str]], label: str
) -> list[Match | None] | None:
    """One match per non-empty piece, in order; None when they do not all match.
    Raises EditError when more than one placement fits."""
    cands = [_locate(fkeys, piece) if piece else [] for piece in spieces]
    idx = [k for k, piece in enumerate(spieces) if piece]
    if not idx or any(not cands[k] for k in idx):
        return None
    if any(len(c) > MAX_PLACES for c in cands):
        raise EditError(
            f"{label}: a part of SEARCH between its '...' lines matches more than {MAX_PLACES} "
            "places in the file; give more lines around each '...' so that each part is unique."
        )
    forward: dict[int, Match] = {}
    pos = 0
    for k in idx:
        pick = next((m for m in cands[k] if m.start >= pos), None)
        if pick is None:
            return None
        forward[k], pos = pick, pick.end
    backward: dict[int, Match] = {}
    pos = len(fkeys)
    for k in reversed(idx):
        pick = next((m for m in reversed(cands[k]) if m.end <= pos), None)
        if pick is None:
            return None
        backward[k], pos = pick, pick.start
    if any(forward[k].pairs != backward[k].pairs for k in idx):
        raise EditError(
            f"{label}: the parts of SEARCH around its '...' lines fit the file in more than one "
            "way; give more lines around each '...' so that each part is unique.",
        )
    return [forward.get(k) for k in range(len(spieces))]


# ---------------------------------------------------------------- errors


_TOKEN_RE = re.compile(r"\w+|[^\w\s]+")


def closest_lines(fkeys: list[str], skeys: list[str]) -> tuple[str | None, int]:
    """The file window most like the SEARCH text, numbered; and its first line (1-based).

    A line scores the share of its tokens that occur in the SEARCH text; the
    best window of SEARCH's length wins (linear time, so fine for big files).
    """
    wanted = {t for line in skeys for t in _TOKEN_RE.findall(line)}
    n = max(1, len([line for line in skeys if line.strip()]))
    if not fkeys or not wanted:
        return None, 0
    scores = []
    for line in fkeys:
        tokens = _TOKEN_RE.findall(line)
        scores.append(sum(t in wanted for t in tokens) / len(tokens) if tokens else 0.0)
    run = sum(scores[:n])
    best, best_at = run, 0
    for i in range(1, max(1, len(fkeys) - n + 1)):
        run += scores[i + n - 1] - scores[i - 1]
        if run > best + 1e-9:
            best, best_at = run, i
    if best < 0.5:
        return None, 0
    first = max(0, best_at - 1)  # one line of surroundings on each side
    window = fkeys[first : best_at + n + 1]
    return "\n".join(f"{first + 1 + t:5d}| {line}" for t, line in enumerate(window)), first + 1


def _ambiguous(label: str, starts: list[int]) -> EditError:
    """The error for a SEARCH found in several places; MAX_PLACES + 1 of them means 'or more'."""
    shown = ", ".join(str(s + 1) for s in starts[:6]) + (", ..." if len(starts) > 6 else "")
    count = f"more than {MAX_PLACES}" if len(starts) > MAX_PLACES else str(len(starts))
    return EditError(
        f"{label}: the SEARCH text matches {count} places in the file (lines {shown}); "
        "add a few surrounding lines to SEARCH so that it matches exactly one."
    )


# ---------------------------------------------------------------- apply


def apply_block_to(text: str, block: EditBlock, path: str | None = None) -> tuple[str, str]:
    """Apply ``block`` to ``text``; returns (new text, tier). Raises EditError."""
    try:
        return _apply_block(text, block, path)
    except AmbiguousGap as gap:
        lines = f"line {gap.first}" if gap.first == gap.last else f"lines {gap.first}-{gap.last}"
        if gap.extra_in_search:
            raise EditError(
                f"{_label(block.index, path or block.path)}: SEARCH has a line the file does not "
                f"have (after line {gap.first}) right where REPLACE changes lines, so the change "
                "cannot be placed safely; copy the lines into SEARCH exactly as they are in the file.",
                block.index, path or block.path,
            ) from None
        raise EditError(
            f"{_label(block.index, path or block.path)}: SEARCH leaves out {lines} of the file right "
            "where REPLACE adds or changes lines, so where the new lines go is unclear; copy "
            f"{lines} into SEARCH (and REPLACE) exactly.",
            block.index, path or block.path,
        ) from None


@dataclass
class _Target:
    """One block against one text: both split into lines once, and how to finish the file."""

    text: str
    block: EditBlock
    path: str | None
    nl: str
    flines: list[str]
    fkeys: list[str]
    slines: list[str]
    skeys: list[str]
    rlines: list[str]
    rkeys: list[str]

    @classmethod
    def of(cls, text: str, block: EditBlock, path: str | None) -> _Target:
        slines, rlines = split_lines(block.search), split_lines(block.replace)
        return cls(text, block, path, newline_of(text), split_lines(text), keys_of(text),
                   slines, [key(line) for line in slines], rlines, [key(line) for line in rlines])

    @property
    def label(self) -> str:
        return _label(self.block.index, self.path or self.block.path)

    def fail(self, err: EditError) -> EditError:
        """``err``, naming this block and file."""
        err.block_index, err.path = self.block.index, self.path or self.block.path
        return err

    def finish(self, lines: list[str], verbatim: bool) -> str:
        had_eol = not self.text or self.text.endswith("\n")
        return _finish(lines, self.nl, had_eol, self.block.eol, verbatim)

    def splice(self, jobs: list[tuple[Match, list[str], list[str]]]) -> str:
        had_eol = not self.text or self.text.endswith("\n")
        return _splice_many(self.flines, self.fkeys, jobs, self.nl, had_eol, self.block.eol)


def _apply_block(text: str, block: EditBlock, path: str | None) -> tuple[str, str]:
    """The tiers in order (exact, whitespace, elision, fuzzy): the first that places the
    block applies it; one that finds several places refuses."""
    target = _Target.of(text, block, path)
    if not target.skeys:
        return _apply_empty_search(target)
    for tier in (_apply_exact, _apply_whitespace, _apply_elided, _apply_fuzzy):
        applied = tier(target)
        if applied is not None:
            return applied
    raise _not_found(target)


def _apply_empty_search(target: _Target) -> tuple[str, str]:
    """An empty SEARCH appends REPLACE to the file (or makes it)."""
    if not target.rlines:
        return target.text, "exact"
    if not target.text:
        return target.finish(list(target.rlines), verbatim=True), "exact"
    return target.finish(target.flines + [line + target.nl for line in target.rkeys], verbatim=False), "exact"


def _apply_exact(target: _Target) -> tuple[str, str] | None:
    fkeys, skeys, flines, nl = target.fkeys, target.skeys, target.flines, target.nl
    if not any(line.strip() for line in skeys):
        starts = find_exact(fkeys, skeys, limit=2)
        if len(starts) != 1:
            raise target.fail(EditError(
                f"{target.label}: its SEARCH text has only blank lines and matches "
                f"{'several' if starts else 'no'} places; include a non-blank line from the file."
            ))
        exact = [_exact_match(starts[0], len(skeys))]
    else:
        exact = [_exact_match(i, len(skeys)) for i in find_exact(fkeys, skeys, limit=MAX_PLACES + 1)]
    if len(exact) > 1:
        raise target.fail(_ambiguous(target.label, [m.start for m in exact]))
    if not exact:
        return None
    m = exact[0]
    region = flines[m.start : m.end]
    # A last line without newline is copied verbatim only in an LF file or from render()
    # (which flags the final newline): a model's LF lines in a CRLF file get CRLF.
    lenient = nl == "\n" or target.block.eol is not None
    verbatim = all(
        s == f or (lenient and not f.endswith("\n") and s[:-1] == f) for s, f in zip(target.slines, region)
    )
    if verbatim:
        new_region = list(target.rlines)
    else:
        new_region = rebuild(flines, fkeys, skeys, target.rkeys, m, nl)
    return target.finish(flines[: m.start] + new_region + flines[m.end :], verbatim), "exact"


def _apply_whitespace(target: _Target) -> tuple[str, str] | None:
    found = find_whitespace(target.fkeys, target.skeys, limit=MAX_PLACES + 1)
    if len(found) > 1:
        raise target.fail(_ambiguous(target.label, [m.start for m in found]))
    if not found:
        return None
    return target.splice([(found[0], target.skeys, target.rkeys)]), "whitespace"


def _apply_elided(target: _Target) -> tuple[str, str] | None:
    """SEARCH with '...' lines: each part between them placed on its own, in order."""
    label, fkeys = target.label, target.fkeys
    spieces, rpieces = _split_elisions(target.skeys), _split_elisions(target.rkeys)
    if len(spieces) <= 1:
        return None
    if len(spieces) != len(rpieces):
        raise target.fail(EditError(
            f"{label}: SEARCH has {len(spieces) - 1} '...' line(s) but REPLACE has "
            f"{len(rpieces) - 1}; each '...' stands for unchanged lines, so they must pair up."
        ))
    if any(not sp and rp for sp, rp in zip(spieces, rpieces)):
        raise target.fail(EditError(
            f"{label}: REPLACE adds lines next to a '...' at the edge of SEARCH, so where "
            "they go is unclear; start and end SEARCH with real lines from the file."
        ))
    try:
        placed = _elision_matches(fkeys, spieces, label)
    except EditError as err:
        raise target.fail(err) from None
    if placed is None:
        return None
    jobs = [(m, sp, rp) for m, sp, rp in zip(placed, spieces, rpieces) if m is not None]
    if any(_is_elision(fkeys[f]) for f in range(jobs[0][0].start, jobs[-1][0].end)):
        raise target.fail(EditError(
            f"{label}: the file itself has '...' lines where this block applies, so a "
            "'...' in SEARCH cannot stand for unchanged lines; copy the lines instead."
        ))
    return target.splice(jobs), "elision"


def _apply_fuzzy(target: _Target) -> tuple[str, str] | None:
    try:
        found = find_fuzzy(target.fkeys, target.skeys)
    except FuzzyGaveUp:
        raise target.fail(EditError(
            f"{target.label}: its SEARCH text was not found exactly, and it resembles so many places "
            "in the file that a fuzzy match cannot be checked for being the only one; copy the "
            "lines into SEARCH exactly as they are in the file, with a few distinctive ones."
        )) from None
    if len(found) > 1:
        raise target.fail(_ambiguous(target.label, [m.start for m in found]))
    if not found:
        return None
    return target.splice([(found[0], target.skeys, target.rkeys)]), "fuzzy"


def _not_found(target: _Target) -> EditError:
    """The error for a SEARCH no tier placed, with the file's closest lines."""
    closest, at = closest_lines(target.fkeys, target.skeys)
    hint = (
        f" The closest lines in the file are {at}-{at + closest.count(chr(10))}:\n{closest}\n"
        if closest else " No line of it occurs in the file. "
    )
    return EditError(
        f"{target.label}: its SEARCH text was not found in the file (tried exact, whitespace-tolerant, "
        f"'...' and fuzzy matching).{hint}"
        "SEARCH must copy existing lines of the file exactly.",
        target.block.index, target.path or target.block.path, closest,
    )


def _splice_many(
    flines: list[str],
    fkeys: list[str],
    jobs: list[tuple[Match, list[str], list[str]]],
    nl: str,
    had_eol: bool,
    eol: bool | None,
) -> str:
    new_lines = list(flines)
    for m, sk, rk in sorted(jobs, key=lambda j: j[0].start, reverse=True):
        new_lines[m.start : m.end] = rebuild(flines, fkeys, sk, rk, m, nl)
    return _finish(new_lines, nl, had_eol, eol, verbatim=False)


def _finish(lines: list[str], nl: str, had_eol: bool, eol: bool | None, verbatim: bool) -> str:
    """Join lines, giving an inner line its newline and the file its final-newline status."""
    for i in [i for i, line in enumerate(lines[:-1]) if line[-1:] != "\n"]:
        lines[i] += nl
    text = "".join(lines)
    want_eol = had_eol if eol is None else eol
    if not text:
        return text
    if want_eol and not text.endswith("\n"):
        return text + nl
    if not want_eol:
        return strip_terminator(text, exact_lf=verbatim)
    return text
