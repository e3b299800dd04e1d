"""Redaction corpus: generated real-looking secrets must go, innocent look-alikes must stay.

Every secret here is generated at test time from a seeded RNG in the shape of
the real format; none is a real credential.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

import pytest

from feedback.redact import redact, redact_value

RNG = random.Random(20261126)
UP, LOW, DIG = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LOW + DIG
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n random characters, using every class (upper, lower, digit) the alphabet has, as real keys do."""
    classes = [c for c in (UP, LOW, DIG) if set(c) & set(alphabet)]
    while True:
        s = "".join(RNG.choice(alphabet) for _ in range(n))
        if n < 8 or all(set(s) & set(c) for c in classes):
            return s


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def pem(kind: str) -> str:
    body = "\n".join(rand(64, B64) for _ in range(6))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n{rand(20, B64)}==\n-----END {kind}PRIVATE KEY-----"


JWT = b64url({"alg": "HS256", "typ": "JWT"}) + "." + b64url({"sub": "1234567890", "name": "Ann", "iat": 1716239022}) \
    + "." + rand(43, URLSAFE)

# (text, the secret that must disappear)
SECRETS: list[tuple[str, str]] = []


def secret(template: str, value: str) -> None:
    SECRETS.append((template.format(s=value), value))


for kind in ("RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "):
    key = pem(kind)
    secret("config = '''\n{s}\n'''\n", key)
sa_key = pem("")
secret('{{"type": "service_account", "private_key": {s}, "client_email": "x@p.iam.gserviceaccount.com"}}',
       json.dumps(sa_key))
secret("aws_access_key_id = {s}", "AKIA" + rand(16, UP + "234567"))
secret("ASIA key in a log line: {s} used", "ASIA" + rand(16, UP + "234567"))
secret("aws_secret_access_key = {s}", rand(40, B64))
secret("export AWS_SECRET_ACCESS_KEY={s}", rand(40, B64))
secret('const firebase = {{ apiKey: "{s}" }};', "AIza" + rand(35, URLSAFE))
secret("maps_url = 'https://maps.example.com/api?key={s}'", "AIza" + rand(35, URLSAFE))
secret('{{"client_secret": "{s}"}}', "GOCSPX-" + rand(28, URLSAFE))
secret("curl -H 'x-goog: {s}'", "ya29." + rand(60, URLSAFE))
secret("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=core.windows.net",
       rand(86, B64) + "==")
secret("https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sp=r&sig={s}", rand(43, ALNUM) + "%3D")
secret("AZURE_CLIENT_SECRET={s}", rand(3, ALNUM) + "8Q~" + rand(34, ALNUM))
secret("creds = ['{s}']", rand(3, ALNUM) + "7Q~" + rand(31, ALNUM))
secret("git clone https://x:{s}@github.com/o/r.git", "ghp_" + rand(36))
secret("GH = '{s}'", "gho_" + rand(36))
secret("auth: {s}", "github_pat_" + rand(22) + "_" + rand(59))
secret("GITLAB = '{s}'", "glpat-" + rand(20, URLSAFE))
secret("slack = {s}", "xoxb-" + rand(12, DIG) + "-" + rand(13, DIG) + "-" + rand(24))
secret("hook: {s}", "https://hooks.slack.com/services/T" + rand(8, UP + DIG) + "/B" + rand(8, UP + DIG) + "/"
       + rand(24))
secret("stripe.api = '{s}'", "sk_live_" + rand(24))
secret("//registry.npmjs.org/:_authToken={s}", "npm_" + rand(36))
secret("HF = '{s}'", "hf_" + rand(34, UP + LOW))
secret("client = OpenAI(api_key='{s}')", "sk-proj-" + rand(48, URLSAFE))
secret("llm = Anthropic('{s}')", "sk-ant-api03-" + rand(80, URLSAFE))
secret("cookie: session={s}", JWT)
secret('headers = {{"Authorization": "Bearer {s}"}}', rand(40, URLSAFE))
secret("Authorization: Basic {s}", base64.b64encode(b"admin:" + rand(12).encode()).decode())
secret('password = "{s}"', "hunter2!" + rand(4))
secret("    'PASSWORD': '{s}',", "Tr0ub4dor&3")
secret("db_password: {s}", "p@ssw0rd-" + rand(6))
secret("DB_PASSWORD={s}", "s3cr3t" + rand(5))
secret('{{"user": "ann", "passwd": "{s}"}}', rand(12))
secret("const apiKey = '{s}';", rand(32))
secret('Token := "{s}"', rand(30, URLSAFE))
secret("secret_key_base: {s}", rand(64, "0123456789abcdef"))
secret("SECRET_KEY = '{s}'", "django-insecure-" + rand(40, LOW + DIG + "!@#$%^&*(-_=+)"))
secret("private_key = {s}", rand(44, B64))
secret("DATABASE_URL=postgres://app:{s}@db.internal:5432/app", rand(16))
secret("signing secret for webhooks\nwh = '{s}'", rand(32))
secret("login(user, api_key='{s}')", rand(24))
secret("client.connect(token, '{s}')", rand(32, URLSAFE))
secret("let creds = {{ clientSecret: `{s}` }}", rand(30))


def look_alike_corpus() -> list[str]:
    sha512 = base64.b64encode(RNG.randbytes(64)).decode()
    hex64 = RNG.randbytes(32).hex()
    hex40 = RNG.randbytes(20).hex()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + RNG.randbytes(120)).decode()
    return [
        f'"node_modules/left-pad": {{"version": "1.3.0", "integrity": "sha512-{sha512}"}}',
        f'{{file = "httpx-0.27.0-py3-none-any.whl", hash = "sha256:{hex64}"}}',
        f'  resolved "https://registry.yarnpkg.com/ms/-/ms-2.1.3.tgz#{hex40}"',
        f"commit {hex40}\nAuthor: Ann <ann@example.com>",
        f"FROM python:3.12-slim@sha256:{hex64}",
        f'user_id = "{uuid.UUID(int=RNG.getrandbits(128))}"',
        f'{{"request_id": "{uuid.UUID(int=RNG.getrandbits(128))}", "token_type": "bearer"}}',
        f'<img alt="logo" src="data:image/png;base64,{png}">',
        "def login(username: str, password: str) -> Token:",
        "password = getpass.getpass()",
        'token = os.environ["GITHUB_TOKEN"]',
        "secret = settings.SECRET_KEY",
        "if token is None:\n    raise AuthError('no token')",
        'password_field = "password"',
        'token_type = "bearer"',
        "api_key = None",
        "PASSWORD_MIN_LENGTH = 12",
        'auth_url = "https://example.com/oauth/authorize"',
        'tokenizer = AutoTokenizer.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")',
        "passed = run_tests(suite)",
        'password: "${DB_PASSWORD}"',
        "secret: {{ .Values.secret }}",
        'api_key = "<your-api-key>"',
        'headers["Authorization"] = f"Bearer {token}"',
        'ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"',
        '"description": "The password must contain at least one digit"',
        "self.token = token",
        "access_token = response.json()['access_token']",
        "TOKEN_ENV = 'AMIGO_API_KEY'",
        "return hashlib.sha256(password.encode()).hexdigest()",
        f"checksum = '{hex64}'",
        "very_long_function_name_with_many_words_and_digits_2024()",
        "x = compute_tokens(text, max_tokens=4096)",
        'raise ValueError("secret must not be empty")',
        "    pass\n",
    ]


@pytest.mark.parametrize("text,value", SECRETS, ids=[f"secret{i}" for i in range(len(SECRETS))])
def test_secret_is_redacted(text: str, value: str) -> None:
    out = redact(text)
    assert value not in out, out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("text", look_alike_corpus(), ids=lambda t: t[:30])
def test_look_alike_is_kept(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_deterministic_and_reaches_nested_data() -> None:
    text, value = SECRETS[0]
    assert redact(text) == redact(text)
    data = {"messages": [{"role": "user", "content": text}], "n": 3}
    out = redact_value(data)
    assert value not in json.dumps(out) and out["n"] == 3


def test_surrounding_code_survives() -> None:
    text = 'def connect():\n    password = "Zq9!xLm2#pW"\n    return db.connect(user="app", password=password)\n'
    out = redact(text)
    assert out == ('def connect():\n    password = "[REDACTED:password]"\n'
                   '    return db.connect(user="app", password=password)\n')
