"""Finding local models and keys, and saving the choice in the user's config (no screen).

Detection runs against real HTTP servers on 127.0.0.1 on ephemeral ports; every test has
its own NANOTUI_HOME.
"""

from __future__ import annotations

import stat
import time
import tomllib
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer
from first_run_support import (
    MODELS,
    OLLAMA_TAGS,
    RESTRICTED_PROJECT,
    LoopbackServer,
    closed_port_url,
    configure_user_provider,
    isolate_home,
    make_workspace,
)

from nanotui import paths
from nanotui.config_loading import load_settings
from nanotui.providers.demo import copy_sample_project
from nanotui.security.trust import decline
from nanotui.tui.first_run_detect import (
    DEMO_CHOICE,
    DetectedServer,
    ProviderChoice,
    SetupError,
    detect_api_keys,
    detect_local_servers,
    list_models_at,
    needs_first_run,
    needs_setup,
    needs_trust_question,
    write_user_provider_config,
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


# ---- detection ---------------------------------------------------------------------------


def test_detects_ollama_and_lm_studio_with_their_models() -> None:
    with (
        LoopbackServer({"/api/tags": (200, OLLAMA_TAGS, 0)}) as ollama,
        LoopbackServer({"/v1/models": (200, MODELS, 0)}) as lm_studio,
    ):
        found = detect_local_servers(ollama_url=ollama.url, lm_studio_url=lm_studio.url)
    assert found == [
        DetectedServer("Ollama", f"{ollama.url}/v1", ("qwen2.5-coder:14b", "llama3.2:3b")),
        DetectedServer("LM Studio", f"{lm_studio.url}/v1", ("qwen2.5-7b-instruct",)),
    ]


def test_ollama_without_api_tags_is_found_through_v1_models() -> None:
    with LoopbackServer({"/v1/models": (200, MODELS, 0)}) as ollama:
        found = detect_local_servers(ollama_url=ollama.url, lm_studio_url=closed_port_url())
    assert found == [DetectedServer("Ollama", f"{ollama.url}/v1", ("qwen2.5-7b-instruct",))]


def test_nothing_running_finds_nothing_without_waiting_for_the_timeout() -> None:
    started = time.monotonic()
    found = detect_local_servers(60, ollama_url=closed_port_url(), lm_studio_url=closed_port_url())
    assert found == []
    assert time.monotonic() - started < 30  # a refused connection is an answer


def test_a_slow_server_is_given_up_within_the_timeout_while_the_other_is_found() -> None:
    with (
        LoopbackServer({"/api/tags": (200, OLLAMA_TAGS, 60.0)}) as slow,
        LoopbackServer({"/v1/models": (200, MODELS, 0)}) as lm_studio,
    ):
        started = time.monotonic()
        found = detect_local_servers(1.0, ollama_url=slow.url, lm_studio_url=lm_studio.url)
        elapsed = time.monotonic() - started
    assert [server.name for server in found] == ["LM Studio"]
    assert elapsed < 30  # given up at its timeout, not left to answer after a minute


def test_something_else_on_the_port_is_not_a_model_server() -> None:
    with (
        LoopbackServer({"/api/tags": (200, "<html>hello</html>", 0)}) as web,
        LoopbackServer({"/v1/models": (200, {"models": "nope"}, 0)}) as odd,
    ):
        assert detect_local_servers(ollama_url=web.url, lm_studio_url=odd.url) == []


def test_key_detection_names_the_variable_and_never_holds_the_key() -> None:
    environ = {"OPENAI_API_KEY": "sk-very-secret", "ANTHROPIC_API_KEY": "", "PATH": "/bin"}
    found = detect_api_keys(environ)
    assert [(k.variable, k.service, k.base_url) for k in found] == [
        ("OPENAI_API_KEY", "OpenAI", "https://api.openai.com/v1")
    ]
    assert found[0].choice() == ProviderChoice(
        "openai-compatible", "https://api.openai.com/v1", "gpt-4.1", "OPENAI_API_KEY"
    )
    assert "sk-very-secret" not in repr(found)


def test_every_usual_key_variable_is_recognised() -> None:
    environ = {name: "x" for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY")}
    kinds = {k.variable: (k.kind, k.base_url) for k in detect_api_keys(environ)}
    assert kinds == {
        "ANTHROPIC_API_KEY": ("anthropic", "https://api.anthropic.com"),
        "OPENAI_API_KEY": ("openai-compatible", "https://api.openai.com/v1"),
        "OPENROUTER_API_KEY": ("openai-compatible", "https://openrouter.ai/api/v1"),
    }


# ---- the models of a server the user names ----------------------------------------------


async def test_a_v1_url_lists_the_models_of_its_server() -> None:
    with FakeModelServer() as server:
        server.models = ["coder-7b", "coder-32b"]
        base_url = server.openai_base_url
        found = await list_models_at(base_url + "/")
    assert found.base_url == base_url and found.models == ("coder-7b", "coder-32b")


async def test_a_root_url_is_listed_at_v1_models_and_saved_with_its_v1() -> None:
    with FakeModelServer() as server:
        root = f"http://127.0.0.1:{server.port}"
        found = await list_models_at(root)
    assert found.base_url == f"{root}/v1" and found.models == ("test-model",)


async def test_an_ollama_root_url_is_listed_from_its_tags() -> None:
    with LoopbackServer({"/api/tags": (200, OLLAMA_TAGS, 0)}) as ollama:
        found = await list_models_at(ollama.url)
    assert found == DetectedServer(
        "Ollama", f"{ollama.url}/v1", ("qwen2.5-coder:14b", "llama3.2:3b")
    )


async def test_a_server_that_wants_a_key_lists_its_models_only_with_it() -> None:
    with FakeModelServer() as server:
        server.required_key = "sk-local"
        with pytest.raises(SetupError) as refused:
            await list_models_at(server.openai_base_url)
        found = await list_models_at(server.openai_base_url, api_key="sk-local")
    assert str(refused.value).startswith("127.0.0.1:")
    assert "lists its models only to a client with an API key" in str(refused.value)
    assert found.models == ("test-model",)


async def test_a_url_nothing_answers_at_is_one_sentence() -> None:
    with pytest.raises(SetupError) as refused:
        await list_models_at(closed_port_url() + "/v1")
    assert str(refused.value).startswith("Could not reach 127.0.0.1:")
    assert str(refused.value).endswith("type the model name.")


async def test_a_server_with_no_model_list_is_one_sentence() -> None:
    with (
        LoopbackServer({"/": (200, "<html>hello</html>", 0)}) as other,
        pytest.raises(SetupError) as refused,
    ):
        await list_models_at(other.url)
    assert str(refused.value).endswith("did not list its models; type the model name.")


# ---- writing the user's config -----------------------------------------------------------

EXISTING = """\
# my settings
[approval]
mode = "plan"

[provider]
kind = "openai-compatible"
base_url = "https://openrouter.ai/api/v1"
model = "old/model"
api_key_env = "OPENROUTER_API_KEY"
read_timeout_s = 600.0

# keep this comment
[policy]
allow = [
  "git status",
  "pytest *",
]

[prices."my-model"]
input_per_mtok = 0.0
output_per_mtok = 0.0
"""


def test_writing_replaces_provider_and_keeps_everything_else(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-secret")
    home.mkdir()
    paths.user_config_file().write_text(EXISTING)
    choice = ProviderChoice("openai-compatible", "http://localhost:11434/v1", "qwen2.5-coder:14b")

    written = write_user_provider_config(choice)

    text = written.read_text()
    data = tomllib.loads(text)
    before = tomllib.loads(EXISTING)
    assert data["provider"] == {
        "kind": "openai-compatible",
        "base_url": "http://localhost:11434/v1",
        "model": "qwen2.5-coder:14b",
        "read_timeout_s": 600.0,  # the user's own tuning stays; the stale key variable goes
    }
    assert {k: v for k, v in data.items() if k != "provider"} == {
        k: v for k, v in before.items() if k != "provider"
    }
    assert "# my settings" in text and "# keep this comment" in text
    assert "sk-or-secret" not in text
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    settings = load_settings(None, environ={}).settings
    assert settings.provider.model == "qwen2.5-coder:14b"
    assert settings.approval.mode == "plan"
    assert settings.policy.allow == ["git status", "pytest *"]


def test_writing_a_key_choice_stores_the_variable_name_not_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    (key,) = detect_api_keys({"ANTHROPIC_API_KEY": "sk-ant-secret"})
    written = write_user_provider_config(key.choice())
    text = written.read_text()
    assert "sk-ant-secret" not in text
    assert tomllib.loads(text) == {
        "provider": {
            "kind": "anthropic",
            "base_url": "https://api.anthropic.com",
            "model": "claude-sonnet-4-5",
            "api_key_env": "ANTHROPIC_API_KEY",
        }
    }
    loaded = load_settings(None, environ={})
    assert loaded.provider_configured
    assert loaded.settings.provider.api_key_env == "ANTHROPIC_API_KEY"


def test_writing_twice_gives_the_same_file() -> None:
    choice = ProviderChoice("openai-compatible", "http://localhost:1234/v1", "a")
    path = paths.user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text('[approval]\nmode = "plan"\n\n[budget]\nsession_usd = 1.0\n')
    write_user_provider_config(choice)
    first = path.read_text()
    write_user_provider_config(choice)
    assert path.read_text() == first
    write_user_provider_config(ProviderChoice("openai-compatible", "http://x:1/v1", 'we"ird\\'))
    assert tomllib.loads(path.read_text())["provider"]["model"] == 'we"ird\\'


def test_a_broken_config_file_is_left_alone() -> None:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text("[approval\nmode = 'plan'\n")
    with pytest.raises(SetupError, match="not valid TOML"):
        write_user_provider_config(ProviderChoice("openai-compatible", "http://x:1/v1", "m"))
    assert path.read_text() == "[approval\nmode = 'plan'\n"


def test_the_demo_is_never_written() -> None:
    with pytest.raises(SetupError):
        write_user_provider_config(DEMO_CHOICE)
    assert not paths.user_config_file().exists()


# ---- when the first run asks ---------------------------------------------------------------


def test_the_questions_are_asked_when_they_decide_something(workspace: Path) -> None:
    loaded = load_settings(workspace, environ={})
    assert needs_setup(loaded) and needs_first_run(loaded, workspace, trusted=False)

    # A folder nanotui has not worked in: its first session asks about trust, once.
    configure_user_provider()
    loaded = load_settings(workspace, environ={})
    assert not needs_setup(loaded) and needs_trust_question(loaded, workspace, trusted=False)
    decline(workspace)
    assert not needs_first_run(loaded, workspace, trusted=False)

    # A project config that only tightens: nothing was ignored, nothing more to decide.
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text('[approval]\nmode = "plan"\n')
    loaded = load_settings(workspace, environ={})
    assert not loaded.notices and not needs_trust_question(loaded, workspace, trusted=False)

    # One that asks for more is asked about again, even after "not now".
    (workspace / ".nanotui" / "config.toml").write_text(RESTRICTED_PROJECT)
    loaded = load_settings(workspace, environ={})
    assert needs_trust_question(loaded, workspace, trusted=False)
    assert not needs_trust_question(loaded, workspace, trusted=True)

    # The demo works on a copy it never trusts: nothing to ask.
    demo = load_settings(workspace, {"provider": {"kind": "demo"}}, environ={})
    assert not needs_setup(demo) and not needs_trust_question(demo, workspace, trusted=False)


def test_a_demo_copy_opened_with_a_real_model_is_not_asked_about(workspace: Path) -> None:
    # It can never be trusted, so the question would only offer an answer that is refused.
    copy = copy_sample_project(paths.demo_projects_dir() / "20260101-000000-abcd")
    configure_user_provider()
    loaded = load_settings(copy, environ={})
    assert not needs_setup(loaded) and loaded.settings.provider.kind == "openai-compatible"
    assert not needs_first_run(loaded, copy, trusted=False)
    assert needs_trust_question(loaded, workspace, trusted=False)  # a folder of the user's is
