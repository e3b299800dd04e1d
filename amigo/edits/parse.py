"""Parsing model answers: SEARCH/REPLACE blocks, or one fenced block (whole format).

Markers may be longer than seven characters: a block opened by ``<`` * N
closes at ``=`` * N and ``>`` * N, which lets render() write files that
contain ``=======`` lines (reStructuredText, merge conflicts). Weak models
that miscount fall back to any marker of five or more characters.
"""

from __future__ import annotations

import re

from amigo.edits.lines import key, split_lines
from amigo.edits.model import EditBlock, EditError, ParsedAnswer

OPEN_RE = re.compile(r"^\s*(<{5,})\s*SEARCH\s*:?\s*$")
DIVIDER_RE = re.compile(r"^\s*(={5,})\s*$")
CLOSE_RE = re.compile(r"^\s*(>{5,})\s*REPLACE\b(.*)$")
FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^`]*?)\s*$")
# the last part may be a dotfile (.pre-commit-config.yaml), never dots alone ("...": an elision)
_PATH_RE = re.compile(r"(?:[\w.@+~-]+/)*\.?[\w@+~-][\w.@+~-]*")
_PATH_PREFIX_RE = re.compile(r"^(?:#+|//|--|;+|>)?\s*(?:(?:file|path|filename)\s*:\s*)?", re.I)
_BARE_NAMES = {"Makefile", "Dockerfile", "Gemfile", "Rakefile", "Procfile", "Jenkinsfile",
               "LICENSE", "README", "CMakeLists.txt", "Vagrantfile"}
NO_EOL_FLAG = "(no newline at end of file)"
EOL_FLAG = "(newline at end of file)"


def marker_count(line_key: str, pattern: re.Pattern[str]) -> int:
    """The length of the marker run when ``line_key`` is that marker, else 0."""
    m = pattern.match(line_key)
    return len(m.group(1)) if m else 0


def clean_path(text: str) -> str | None:
    """``text`` as a repo-relative path if it looks like one (``# a.py``, ``**a.py**``, ```a.py```:)."""
    s = text.strip()
    s = _PATH_PREFIX_RE.sub("", s, count=1).strip()
    s = s.strip("*`'\"").rstrip(":").strip("*`'\" ")
    s = s.replace("\\", "/")
    while s.startswith("./"):
        s = s[2:]
    if not s or not _PATH_RE.fullmatch(s) or set(s) <= {"."}:
        return None
    if "/" in s or s in _BARE_NAMES:
        return s
    stem, dot, ext = s.rpartition(".")
    return s if dot and ext and (stem or s.startswith(".")) else None


def _scan(keys: list[str], start: int, width: int, strict: bool) -> tuple[int, int, str] | None:
    """Find (divider line, closer line, text after REPLACE) for the block opened at ``start``."""
    def fits(count: int) -> bool:
        return count == width if strict else count >= 5

    divider = None
    for j in range(start + 1, len(keys)):
        k = keys[j]
        if fits(marker_count(k, OPEN_RE)):
            return None
        if divider is None:
            if fits(marker_count(k, DIVIDER_RE)):
                divider = j
            elif fits(marker_count(k, CLOSE_RE)):
                return None
        elif fits(marker_count(k, CLOSE_RE)):
            m = CLOSE_RE.match(k)
            return divider, j, m.group(2) if m else ""
    return None


def _why_malformed(keys: list[str], start: int) -> tuple[str, int]:
    """Explain a block that did not scan; returns (reason, line to resume from)."""
    for j in range(start + 1, len(keys)):
        if marker_count(keys[j], OPEN_RE):
            return (f"another '<<<<<<< SEARCH' (answer line {j + 1}) comes before its '=======' divider; "
                    "blocks cannot be nested, close each with '>>>>>>> REPLACE' first"), j
        if marker_count(keys[j], CLOSE_RE):
            return "it has no '=======' line between SEARCH and REPLACE", j + 1
        if marker_count(keys[j], DIVIDER_RE):
            for t in range(j + 1, len(keys)):
                if marker_count(keys[t], OPEN_RE):
                    return "it is not closed by '>>>>>>> REPLACE' before the next block", t
            return "it is not closed by '>>>>>>> REPLACE' (the answer may have been cut off)", len(keys)
    return "it is not closed (no '=======' and no '>>>>>>> REPLACE'; the answer may have been cut off)", len(keys)


def _eol_flag(rest: str) -> bool | None:
    rest = rest.lower()
    if "no newline at end of file" in rest:
        return False
    if "newline at end of file" in rest:
        return True
    return None


def _path_before(keys: list[str], start: int, used: list[bool]) -> tuple[str | None, list[int]]:
    """The path written just before an opener (skipping blank and fence lines)."""
    j, skipped = start - 1, []
    while j >= 0 and not used[j] and start - j <= 4:
        stripped = keys[j].strip()
        fence = FENCE_RE.match(keys[j])
        if not stripped:
            skipped.append(j)
        elif fence:
            skipped.append(j)
            info = clean_path(fence.group(2)) if fence.group(2) else None
            if info and ("/" in info or "." in info):
                return info, skipped
        else:
            path = clean_path(stripped)
            if path is None:
                return None, [s for s in skipped if keys[s].strip()]
            lines = skipped + [j]
            if j > 0 and not used[j - 1] and FENCE_RE.match(keys[j - 1]):
                lines.append(j - 1)
            return path, lines
        j -= 1
    return None, [s for s in skipped if keys[s].strip()]


def parse_blocks(answer: str) -> ParsedAnswer:
    """Split a model answer into SEARCH/REPLACE blocks, prose, and syntax errors."""
    lines = split_lines(answer)
    keys = [key(line) for line in lines]
    used = [False] * len(lines)
    blocks: list[EditBlock] = []
    errors: list[str] = []
    i, ordinal = 0, 0
    while i < len(lines):
        width = marker_count(keys[i], OPEN_RE)
        if not width:
            i += 1
            continue
        found = _scan(keys, i, width, strict=True) or _scan(keys, i, width, strict=False)
        path, path_lines = _path_before(keys, i, used)
        if found is None:
            reason, resume = _why_malformed(keys, i)
            where = f" for {path}" if path else ""
            errors.append(f"Block {ordinal + 1}{where} (answer line {i + 1}) is malformed: {reason}.")
            for j in range(i, resume):
                used[j] = True
            ordinal += 1
            i = max(resume, i + 1)
            continue
        divider, closer, rest = found
        for j in path_lines + list(range(i, closer + 1)):
            used[j] = True
        if closer + 1 < len(lines) and FENCE_RE.match(keys[closer + 1]) and not FENCE_RE.match(
            keys[closer + 1]
        ).group(2):
            used[closer + 1] = True
        search = lines[i + 1 : divider]
        replace = lines[divider + 1 : closer]
        blocks.append(EditBlock(path, _section(search), _section(replace), ordinal, _eol_flag(rest)))
        ordinal += 1
        i = closer + 1
    prose = "".join(line for line, u in zip(lines, used) if not u).strip()
    return ParsedAnswer(tuple(blocks), prose, tuple(errors))


def _section(raw_lines: list[str]) -> str:
    text = "".join(raw_lines)
    return text if not text or text.endswith("\n") else text + "\n"


def find_fences(answer: str) -> list[tuple[int, int, str]]:
    """Fenced code blocks as (first line, end line, code); an unclosed fence runs to the end."""
    lines = split_lines(answer)
    keys = [key(line) for line in lines]
    found = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(keys[i])
        if not m:
            i += 1
            continue
        run = m.group(1)
        end = len(lines)
        for j in range(i + 1, len(lines)):
            c = FENCE_RE.match(keys[j])
            if c and c.group(1)[0] == run[0] and len(c.group(1)) >= len(run) and not c.group(2):
                end = j
                break
        found.append((i, end, "".join(lines[i + 1 : end])))
        i = end + 1
    return found


def has_closed_fence(answer: str) -> bool:
    """Whether ``answer`` already holds a closed, non-empty fenced code block (a streamed
    whole-format answer has then written the code the format takes from it)."""
    count = len(split_lines(answer))
    return any(end < count and code.strip() for _, end, code in find_fences(answer))


def parse_whole(answer: str) -> str:
    """The code of the answer's fenced block (the largest when there are several)."""
    fences = find_fences(answer)
    if not fences:
        raise EditError(
            "The answer has no fenced code block (```...```); in the whole format the model "
            "must answer with the complete rewritten code in one fence. Retry, or use the "
            "blocks format."
        )
    return max(fences, key=lambda f: len(f[2]))[2]


def whole_prose(answer: str) -> str:
    """The answer's text outside its largest fenced block."""
    fences = find_fences(answer)
    lines = split_lines(answer)
    if not fences:
        return answer.strip()
    start, end, _ = max(fences, key=lambda f: len(f[2]))
    return ("".join(lines[:start]) + "".join(lines[end + 1 :])).strip()


_ABSOLUTE_RE = re.compile(r"^(/|[A-Za-z]:[\\/]|~/)")


def why_no_path(answer: str) -> str:
    """Why no block of ``answer`` names its file, said so that the person can fix it."""
    parsed = parse_blocks(answer)
    if parsed.errors:
        return "the answer's blocks are malformed: " + " ".join(parsed.errors)
    if not parsed.blocks:
        return ("the answer has no SEARCH/REPLACE blocks; for a rewrite in one fenced block "
                "pass --path FILE (and --lines A-B)")
    keys = [key(line) for line in split_lines(answer)]
    opener = next(i for i, k in enumerate(keys) if marker_count(k, OPEN_RE))
    before = next((keys[j].strip() for j in range(opener - 1, -1, -1)
                   if keys[j].strip() and not FENCE_RE.match(keys[j])), "")
    name = before.strip("*`'\"").rstrip(":")
    if not before:
        return "block 1 has no file name on the line before '<<<<<<< SEARCH'; add one, or pass --path FILE"
    if _ABSOLUTE_RE.match(name):
        return (f"block 1 names {name!r}, an absolute path; Amigo edits files inside the repository "
                "only: name it relative to the repository root, or pass --path FILE")
    return (f"the line before block 1 ({name[:80]!r}) is not taken as a file name (a name needs a folder "
            "or an extension, like src/app.py; bare names other than Makefile-like ones are read as "
            f"prose); pass --path {name.split()[0][:80] if name.split() else 'FILE'} to edit that file")
