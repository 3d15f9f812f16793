"""Secret redaction: each kind caught with its surroundings kept, no false alarms on code.

Every fake secret here is assembled at run time from a prefix and `fake(n)`, so this file
holds no string a secret scanner would flag; the values are shaped right and obviously fake.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nanotui.security.secrets.environment import secret_environment_values, shannon_entropy
from nanotui.security.secrets.redaction import Redactor

ROOT = Path(__file__).resolve().parent.parent
redact = Redactor().redact
"""The patterns alone: no literal values known to be secret."""
# Files that hold fake secrets on purpose, with the kinds they are expected to raise.
FIXTURE_FILES = {
    "tests/test_secrets.py": None,
    "tests/test_redaction_flow.py": None,
    # Checks that a provider's label hides the password of a credential URL.
    "tests/test_openai_provider.py": ["password"],
}


def fake(length: int, alphabet: str = "FaKe0x9Y8z7W6v5U4t3S2r1Q") -> str:
    """A made-up value of `length` characters that mixes case and digits like a real key."""
    return "".join(alphabet[(i * 7 + i // len(alphabet)) % len(alphabet)] for i in range(length))


def fake_hex(length: int) -> str:
    return "".join("0123456789abcdef"[(i * 5 + 3) % 16] for i in range(length))


PEM_BODY = "MIIEv" + fake(60) + "\n" + fake(64) + "\n" + fake(20) + "=="


def cases() -> list[tuple[str, str, str, str]]:
    """(kind, text, secret, text that must survive around it)."""
    jwt = "eyJ" + fake(20) + ".eyJ" + fake(30) + "." + fake(43)
    return [
        ("github_token", "token: ghp_" + fake(36), "ghp_" + fake(36), "token: "),
        ("github_token", "push with gho_" + fake(36) + " ok", "gho_" + fake(36), " ok"),
        ("github_token", "GH=ghs_" + fake(36), "ghs_" + fake(36), "GH="),
        ("github_token", "pat github_pat_" + fake(22) + "_" + fake(59), fake(59), "pat "),
        ("gitlab_token", "CI_TOKEN: glpat-" + fake(20), "glpat-" + fake(20), "CI_TOKEN: "),
        ("slack_token", "bot xoxb-1234-" + fake(24), "xoxb-1234-" + fake(24), "bot "),
        (
            "slack_webhook",
            "url = https://hooks.slack.com/services/T0/B0/" + fake(24),
            fake(24),
            "url = https://hooks.slack.com/",
        ),
        ("stripe_key", "stripe.api_key = sk_live_" + fake(24), "sk_live_" + fake(24), "stripe"),
        ("stripe_key", "restricted rk_live_" + fake(24), "rk_live_" + fake(24), "restricted "),
        ("stripe_key", "test key sk_test_" + fake(24), "sk_test_" + fake(24), "test key "),
        ("openai_key", "OPENAI_API_KEY=sk-" + fake(48), "sk-" + fake(48), "OPENAI_API_KEY="),
        ("openai_key", "key sk-proj-" + fake(40) + "_-" + fake(60), fake(60), "key "),
        ("anthropic_key", "x = 'sk-ant-api03-" + fake(90) + "'", fake(90), "x = '"),
        ("aws_access_key_id", "aws_access_key_id = AKIA" + "FAKE" * 4, "AKIAFAKE", "aws_"),
        ("aws_access_key_id", "session ASIA" + "FAKE0123" * 2, "ASIAFAKE", "session "),
        (
            "aws_secret_access_key",
            "aws_secret_access_key = " + fake(40),
            fake(40),
            "aws_secret_access_key = ",
        ),
        ("google_api_key", '"api": "AIza' + fake(35) + '"', "AIza" + fake(35), '"api": "'),
        (
            "gcp_private_key_id",
            '"private_key_id": "' + fake_hex(40) + '",',
            fake_hex(40),
            '"private_key_id": "',
        ),
        (
            "azure_storage_key",
            "AccountName=demo;AccountKey=" + fake(86) + "==;EndpointSuffix=core.windows.net",
            fake(86),
            "AccountKey=",
        ),
        ("jwt", "Authorization: Bearer " + jwt, jwt, "Authorization: Bearer "),
        ("password", 'password = "' + "hunter" + '2"', "hunter2", 'password = "'),
        ("password", "DB_PASSWORD=" + "s3cr3t-Pw", "s3cr3t-Pw", "DB_PASSWORD="),
        ("password", '{"password": "' + "pa55" + 'word!"}', "pa55word!", '{"password": "'),
        ("password", "  password: " + "hunter" + "2", "hunter2", "  password: "),
        (
            "password",
            "DATABASE_URL=postgres://app:" + "Tr0ub4dor" + "@db.internal:5432/app",
            "Tr0ub4dor",
            "postgres://app:",
        ),
        ("secret", 'client_secret = "' + fake(32) + '"', fake(32), "client_secret"),
        ("env_secret", "export API_TOKEN=" + fake(16), fake(16), "export API_TOKEN="),
        ("high_entropy", "CACHE_NONCE_VALUE=" + fake(32), fake(32), "CACHE_NONCE_VALUE="),
        ("high_entropy", "RANDOM_SEED_VALUE=" + fake(40), fake(40), "RANDOM_SEED_VALUE="),
        ("gcp_access_token", "Bearer? ya29." + fake(40), "ya29." + fake(40), "Bearer? "),
        (
            "azure_client_secret",
            "client_secret: abC8Q~" + fake(33),
            "abC8Q~" + fake(33),
            "client_secret: ",
        ),
        ("password", "mysql --password " + fake(12), fake(12), "mysql --password "),
        ("password", "mysql -u root -p" + fake(12) + " shop", fake(12), " shop"),
        # As tools print a file's lines: grep, grep -n, a diff, cat -n.
        ("password", "./.env:DB_PASSWORD=" + fake(12), fake(12), "./.env:DB_PASSWORD="),
        ("env_secret", ".env:3:API_TOKEN=" + fake(20), fake(20), ".env:3:API_TOKEN="),
        ("env_secret", "+MY_SERVICE_TOKEN=" + fake(20), fake(20), "+MY_SERVICE_TOKEN="),
        ("password", "     1\tDB_PASSWORD=" + fake(12), fake(12), "1\tDB_PASSWORD="),
        # Shell-style assignments in the middle of a command line.
        ("password", "PGPASSWORD=" + fake(12) + " psql -h db", fake(12), " psql -h db"),
        ("password", "DB_PASSWORD=" + fake(12) + "; ./migrate", fake(12), "; ./migrate"),
        ("env_secret", "(AUTH_TOKEN=" + fake(16) + ")", fake(16), "(AUTH_TOKEN="),
        ("env_secret", "export API_TOKEN=" + fake(16) + " && ls", fake(16), " && ls"),
    ]


@pytest.mark.parametrize(("kind", "text", "secret", "kept"), cases())
def test_each_kind_is_redacted_and_its_surroundings_kept(
    kind: str, text: str, secret: str, kept: str
) -> None:
    result = redact(text)
    assert secret not in result.text
    assert f"[REDACTED:{kind}]" in result.text
    assert kept in result.text
    assert kind in result.kinds


def test_a_private_key_block_keeps_its_begin_and_end_lines() -> None:
    text = (
        "before\n-----BEGIN RSA PRIVATE KEY-----\n"
        + PEM_BODY
        + "\n-----END RSA PRIVATE KEY-----\nafter"
    )
    result = redact(text)
    assert result.text == (
        "before\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private_key]\n"
        "-----END RSA PRIVATE KEY-----\nafter"
    )
    assert result.kinds == ["private_key"]


def test_a_service_account_key_inside_json_is_redacted() -> None:
    body = PEM_BODY.replace("\n", "\\n")
    text = (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        + body
        + '\\n-----END PRIVATE KEY-----\\n", "client_email": "x@p.iam.gserviceaccount.com"}'
    )
    result = redact(text)
    assert fake(60) not in result.text
    assert '"private_key": "-----BEGIN PRIVATE KEY-----\\n[REDACTED:private_key]\\n' in result.text
    assert "client_email" in result.text


def test_a_key_block_cut_short_by_a_ranged_read_is_still_redacted() -> None:
    numbered = "\n".join(
        f"{n:>6}\t{line}"
        for n, line in enumerate(
            ["-----BEGIN OPENSSH PRIVATE KEY-----", *PEM_BODY.splitlines()], start=1
        )
    )
    result = redact(numbered + "\n\n(Showing lines 1-4 of 30.)")
    assert fake(64) not in result.text and "[REDACTED:private_key]" in result.text
    assert "(Showing lines 1-4 of 30.)" in result.text


def test_several_secrets_in_one_file_are_each_reported_once() -> None:
    text = "\n".join(
        [
            "GITHUB=ghp_" + fake(36),
            "OTHER=ghp_" + fake(36, "Zz9Yy8Xx7Ww6"),
            "SLACK=xoxp-99-" + fake(20),
            "name = 'value'",
        ]
    )
    result = redact(text)
    assert result.kinds == ["github_token", "slack_token"]
    assert result.text.count("[REDACTED:github_token]") == 2
    assert result.text.endswith("name = 'value'")


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact("PASSWORD=" + "hunter22" + "\ntoken ghp_" + fake(36))
    twice = redact(once.text)
    assert twice.text == once.text and twice.kinds == []


@pytest.mark.parametrize(
    "line",
    [
        "password = get_password()",
        "password: str",
        "pwd = os.getcwd()",
        'api_key_env = "OPENROUTER_API_KEY"',
        "token = settings.api_token",
        "key_sent=bool(api_key),",
        "max_output_tokens=settings.provider.max_output_tokens,",
        "PASSWORD=${DB_PASSWORD}",
        "API_KEY=<your-key-here>",
        'SECRET_KEY=""',
        "TOKEN_FILE=/run/secrets/token",
        "SSH_AUTH_SOCK=/tmp/ssh-abc/agent.1",
        "PATH=/usr/local/bin:/usr/bin",
        "DEBUG=true",
        "https://user@example.com:443/path",
        "the task-oriented sk-learn pipeline",
        "sha256 = " + fake_hex(64),
        "commit " + fake_hex(40),
        "MAX_TOKENS=4096 python bench.py",
        "GITHUB_TOKEN=$GITHUB_TOKEN make release",
        "KEY_FILE=/etc/ssl/site.pem nginx -t",
    ],
)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    result = redact(line)
    assert result.text == line and result.kinds == []


def test_env_style_values_are_judged_by_entropy_when_the_name_says_nothing() -> None:
    assert shannon_entropy(fake(32)) >= 4.0 > shannon_entropy("aaaabbbbccccdddd")
    assert redact("BUILD_ID=" + fake(32)).kinds == []  # an _ID names a thing
    assert redact("RELEASE_NOTE=" + "a" * 40).kinds == []
    assert redact("RELEASE_NOTE=" + fake(40)).kinds == ["high_entropy"]
    assert redact("CHANNEL=stable-2024").kinds == []  # short and plain


def test_secret_environment_values_keep_keys_and_skip_paths_and_flags() -> None:
    environ = {
        "NANOTUI_API_KEY": "local-" + fake(20),
        "MY_SERVICE_TOKEN": fake(12),
        "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "TOKENIZERS_PARALLELISM": "false",
        "HOME": "/home/someone",
        "GITHUB_ACTIONS": "true",
    }
    assert secret_environment_values(environ) == ["local-" + fake(20), fake(12)]


def test_known_values_are_redacted_whatever_their_shape() -> None:
    key = "local-" + fake(20)
    redactor = Redactor([key, "short"])
    result = redactor.redact(f"the key is {key}; short stays short")
    assert result.text == "the key is [REDACTED:environment_secret]; short stays short"
    assert result.kinds == ["environment_secret"]


def test_nested_values_are_redacted_in_place() -> None:
    token = "ghp_" + fake(36)
    value, kinds = Redactor().redact_nested(
        {"stdout": f"pushed with {token}", "lines": [token, 3], "exit_code": 0}
    )
    assert value == {
        "stdout": "pushed with [REDACTED:github_token]",
        "lines": ["[REDACTED:github_token]", 3],
        "exit_code": 0,
    }
    assert kinds == ["github_token"]


def _project_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in ("nanotui", "tests", "bench"):
        files += [
            path
            for path in sorted((ROOT / folder).rglob("*"))
            if path.is_file()
            and "__pycache__" not in path.parts
            and "__snapshots__" not in path.parts
            and path.suffix in {".py", ".md", ".toml", ".tcss", ".txt", ".json", ".sh", ".yml"}
        ]
    return [path for path in files if path.exists()]


def test_the_projects_own_tree_has_nothing_to_redact() -> None:
    raised: dict[str, list[str]] = {}
    checked = 0
    for path in _project_files():
        name = path.relative_to(ROOT).as_posix()
        if name in FIXTURE_FILES and FIXTURE_FILES[name] is None:
            continue
        checked += 1
        kinds = redact(path.read_text(encoding="utf-8", errors="replace")).kinds
        if kinds != (FIXTURE_FILES.get(name) or []):
            raised[name] = kinds
    assert checked > 50
    assert raised == {}


def test_a_megabyte_is_redacted_well_within_a_second() -> None:
    source = (ROOT / "nanotui" / "engine" / "agent.py").read_text(encoding="utf-8")
    secrets = "\n".join(text for _, text, _, _ in cases())
    block = source + "\n" + secrets + "\n"
    text = block * (1_048_576 // len(block) + 1)
    started = time.perf_counter()
    result = redact(text)
    elapsed = time.perf_counter() - started
    print(f"\nredacted {len(text) / 1_048_576:.2f} MB in {elapsed * 1000:.0f} ms")
    assert "github_token" in result.kinds and "ghp_" + fake(36) not in result.text
