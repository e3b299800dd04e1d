"""Secrets never reach the feedback database: every text is redacted first.

Three layers, applied in order to every string before it is stored:

1. Known formats, wherever they appear: PEM private keys, AWS access key ids,
   Google API keys / OAuth secrets / access tokens, Azure storage keys, SAS
   signatures and client secrets, GitHub, GitLab, Slack, Stripe, npm, Hugging
   Face, OpenAI and Anthropic tokens, Slack webhooks, JWTs, credentials in
   URLs and ``Authorization`` headers.
2. Values assigned to a secret-looking name (``password = "..."``,
   ``AWS_SECRET_ACCESS_KEY=...``, ``"apiKey": "..."``), unless the value is
   plainly not a secret (a placeholder, a variable reference, a type, a word).
3. High-entropy strings on a line that names a secret (or just below one).

Deliberately left alone (see the test corpus): lockfile integrity hashes,
commit SHAs and digests not near a secret name, UUIDs outside secret
assignments, base64 images, ordinary identifiers. Redaction is
deterministic, so diffs between two redacted texts stay meaningful.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any, Callable

PLACEHOLDER = "[REDACTED:{kind}]"
# Which rules redacted a stored row: a hash of this file, so any change to the rules (patterns, thresholds,
# code) counts as new rules; ``amigo feedback push`` redacts rows kept under other rules again before sending.
RULES = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _mark(kind: str) -> str:
    return PLACEHOLDER.format(kind=kind)


# 1. Known formats -----------------------------------------------------------------

_FORMATS: list[tuple[str, re.Pattern[str]]] = [
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        re.S)),
    # a key cut off before its END line (a truncated file, a selection)
    ("private_key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n|\s|[A-Za-z0-9+/=])*")),
    ("aws_access_key_id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("gcp_api_key", re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])")),
    ("gcp_oauth_secret", re.compile(r"(?<![\w-])GOCSPX-[0-9A-Za-z_-]{28}(?![\w-])")),
    ("gcp_access_token", re.compile(r"(?<![\w-])ya29\.[0-9A-Za-z_-]{20,}")),
    ("azure_storage_key", re.compile(r"(?i)(?<=AccountKey=)[A-Za-z0-9+/]{86}==")),
    ("azure_sas", re.compile(r"(?<=[?&]sig=)[A-Za-z0-9%+/=]{30,}")),
    ("azure_client_secret", re.compile(r"(?<![\w~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])")),
    ("github_token", re.compile(r"(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})(?!\w)")),
    ("gitlab_token", re.compile(r"(?<![\w-])gl(?:pat|dt|rt|ptt|ft|soat|agent|cbt|imt)-[A-Za-z0-9_-]{20,}")),
    ("slack_webhook", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+")),
    ("slack_token", re.compile(r"(?<![\w-])xox[abposre]-[A-Za-z0-9-]{10,}")),
    ("stripe_key", re.compile(r"(?<![\w])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}")),
    ("npm_token", re.compile(r"(?<![\w])npm_[A-Za-z0-9]{36}(?!\w)")),
    ("huggingface_token", re.compile(r"(?<![\w])hf_[A-Za-z0-9]{34,}(?!\w)")),
    ("anthropic_key", re.compile(r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,}")),
    ("openai_key", re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("jwt", re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("url_password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<s>[^/\s@'\"]+)@", re.I)),
    ("auth_header", re.compile(r"(?i)\b(?:bearer|basic|token) (?P<s>[A-Za-z0-9._~+/=-]{16,})")),
]

# 2. Secret-looking names ----------------------------------------------------------

_WORDS = [
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "secrets", "token", "tokens",
    "apikey", "credential", "credentials", "auth", "sig", "signature",
]
_COMPOUND_KEYS = ["api", "access", "secret", "private", "signing", "encryption", "master", "auth",
                  "client", "app", "account", "session", "license", "webhook"]


def _word_alternatives() -> str:
    """Each secret word as a whole identifier component (snake, kebab, camel, UPPER)."""
    parts = []
    for word in _WORDS:
        parts.append(rf"(?<![A-Za-z])(?i:{word})(?![a-z])")
        parts.append(rf"(?<=[a-z]){word.capitalize()}(?![a-z])")
    for prefix in _COMPOUND_KEYS:
        parts.append(rf"(?<![A-Za-z])(?i:{prefix}[_.-]?key)(?![a-z])")
        parts.append(rf"(?<=[a-z]){prefix.capitalize()}Key(?![a-z])")
    return "|".join(parts)


SECRET_NAME = re.compile(_word_alternatives())

# names that contain a secret word but hold no secret
_HARMLESS_NAME = re.compile(
    r"(?i)(?:^|[_.-])(?:type|types|field|name|label|prompt|header|url|uri|endpoint|path|file|len|length|"
    r"hint|help|msg|message|env|var|expires?|expiry|ttl|count|id|limit|pattern|regex|policy|min|max|"
    r"required|enabled|format|kind|mode|class)$|(?<=[a-z])(?:Type|Field|Name|Label|Url|Uri|Path|File|"
    r"Length|Hint|Env|Id|Count|Limit|Expiry|Expires|Pattern|Policy)$|^(?:bypass|compass|passthrough|"
    r"pass_?through|passed|passes|passing|overpass|tokenizer|tokenize|tokens?_used|authors?|author_\w*)$|"
    r"^(?:max|min|num|n|total|count)_"
)

_IDENT = r"[A-Za-z_$][\w$.-]*"
_ASSIGN = re.compile(
    rf"(?P<name>{_IDENT})(?P<nq>[\"']?)(?P<op>\s*(?::=|=>|=|:)\s*)"
    rf"(?:(?P<q>\"|'|`)(?P<qvalue>[^\"'`\n]*)(?P=q)|(?P<value>\$\{{[^}}\s]*\}}|[^\s\"'`,;)\]}}]+))"
)

_PLACEHOLDER = re.compile(
    r"(?i)^(?:|<[^>]*>|\$\{[^}]*\}|\$\(\S*\)|\$[A-Z_][A-Z0-9_]*|\{\{.*\}\}|%\(?\w*\)?s|%s|\{\w*\}|"
    r"\*+|x+|\.+|-+|null|none|nil|true|false|undefined|changeme|change_me|example|dummy|redacted|"
    r"your[_-][\w-]*|xxx\w*|\[REDACTED:\w+\])$"
)
_PLAIN_WORDS = re.compile(r"^[a-z][a-z._/-]{0,23}$|^[A-Z][A-Z0-9_]*$|^[A-Za-z]+(?: [A-Za-z'.,:!?-]+){2,}$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^@\s]*$", re.I)
_CODE_VALUE = re.compile(
    r"^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\(.*|\[.*)?|-?\d+(?:\.\d+)?|[A-Za-z_]\w*\(.*|.*\)$)$"
)


def _secret_value(value: str, quoted: bool) -> bool:
    """Whether an assigned value looks like a real secret rather than code or a placeholder."""
    if len(value) < 4 or _PLACEHOLDER.match(value) or _URL.match(value):
        return False
    if _PLAIN_WORDS.match(value):
        return False
    if not quoted and _CODE_VALUE.match(value):
        return False  # a variable, attribute, call or small number: code, not a value
    return True


def _assignment(match: re.Match[str]) -> str | None:
    name = match.group("name")
    if not SECRET_NAME.search(name) or _HARMLESS_NAME.search(name.rsplit(".", 1)[-1]):
        return None
    quoted = match.group("q") is not None
    value = match.group("qvalue") if quoted else match.group("value")
    if value is None or not _secret_value(value, quoted):
        return None
    if match.group("op").strip() == ":" and not quoted and match.group("nq") == "" and "(" in match.string[
        max(0, match.start() - 1): match.start()
    ]:
        return None  # a typed parameter: def f(password: str)
    kind = "password" if re.search(r"(?i)pass|pwd", name) else "secret"
    start, end = (match.start("qvalue"), match.end("qvalue")) if quoted else (match.start("value"), match.end("value"))
    return match.string[match.start():start] + _mark(kind) + match.string[end:match.end()]


# 3. High entropy near a secret name -----------------------------------------------

_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=.-]{20,}(?![A-Za-z0-9+/_=-])")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PATHLIKE = re.compile(r"^[\w.-]*(?:[/.][\w-]+)+$")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _high_entropy(token: str) -> bool:
    if _UUID.match(token) or "[REDACTED:" in token:
        return False
    if _PATHLIKE.match(token) and not re.search(r"\d", token):
        return False  # module.attribute.path, some/file/name
    classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    if classes < 2:
        return False
    is_hex = re.fullmatch(r"[0-9a-fA-F]+", token) is not None
    return entropy(token) >= (3.0 if is_hex else 3.7)


def _redact_entropy(text: str) -> str:
    lines = text.split("\n")
    named = [bool(SECRET_NAME.search(line)) for line in lines]
    out = []
    for i, line in enumerate(lines):
        if named[i] or (i > 0 and named[i - 1] and line.strip() and len(line.strip()) < 200):
            line = _CANDIDATE.sub(lambda m: _mark("high_entropy") if _high_entropy(m.group()) else m.group(), line)
        out.append(line)
    return "\n".join(out)


# ----------------------------------------------------------------------------------

def _replace_format(match: re.Match[str], kind: str) -> str:
    """Replace the whole match, or only its ``s`` group when the pattern has one."""
    if "s" not in match.re.groupindex:
        return _mark(kind)
    start, end = match.span("s")
    return match.string[match.start():start] + _mark(kind) + match.string[end:match.end()]


def redact(text: str) -> str:
    """``text`` with every secret it seems to hold replaced by ``[REDACTED:kind]``."""
    if not text:
        return text
    for kind, pattern in _FORMATS:
        text = pattern.sub(lambda m, k=kind: _replace_format(m, k), text)
    text = _ASSIGN.sub(lambda m: _assignment(m) or m.group(), text)
    return _redact_entropy(text)


def redact_value(value: Any, redactor: Callable[[str], str] = redact) -> Any:
    """Redact every string inside JSON-like data (dicts, lists, tuples)."""
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {k: redact_value(v, redactor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, redactor) for v in value]
    return value
