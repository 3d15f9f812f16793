"""The setup screen: no model is configured yet, so offer what this machine has.

Local servers are looked for in a worker (a second at most) while the rest of the list is
already usable; the worker only posts a message. Another server's URL, once entered, is asked
for its models the same way, and they are offered to pick from (a name can still be typed).
With no key variable set, the screen says which variable and base URL each cloud API takes.
Choosing checks the choice the way the app will use it, saves it to the user's config and
dismisses with it; the demo saves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from nanotui import paths
from nanotui.protocol.basics import plural
from nanotui.tui.first_run_detect import (
    DEMO_CHOICE,
    KNOWN_KEYS,
    LM_STUDIO_URL,
    OLLAMA_URL,
    DetectedKey,
    DetectedServer,
    ProviderChoice,
    SetupError,
    check_and_save,
    detect_api_keys,
    detect_local_servers_async,
    display_host,
    list_models_at,
)
from nanotui.tui.screens.main import display_path

Detector = Callable[[], Awaitable[list[DetectedServer]]]

CUSTOM_ID = "custom"
DEMO_ID = "demo"
HINT = "↑↓ move · enter choose · esc quit"
FORM_HINT = "enter look up models / choose · tab next · esc back to the list"


@dataclass(frozen=True)
class _Row:
    """One detected option: service, model and a dim detail, in aligned columns."""

    option_id: str
    name: str
    model: str
    detail: str
    choice: ProviderChoice | None  # None: shown, but nothing to choose

    def option(self, name_width: int, model_width: int) -> Option:
        line = Text()
        line.append(self.name.ljust(name_width), style="bold")
        if self.model:
            line.append("  " + self.model.ljust(model_width))
        line.append("  " + self.detail, style="dim")
        return Option(line, id=self.option_id, disabled=self.choice is None)


class SetupScreen(Screen[ProviderChoice | None]):
    """First run without a model: pick a detected server, a key's service, a URL, or the demo."""

    AUTO_FOCUS = "#setup-options"
    BINDINGS = [
        Binding("escape", "back", "Back / quit", id="setup.back"),
    ]

    class Detected(Message):
        """The local servers that answered (posted by the detection worker)."""

        def __init__(self, servers: list[DetectedServer], error: str | None = None) -> None:
            super().__init__()
            self.servers = servers
            self.error = error

    class Listed(Message):
        """The models the server at `url` lists (posted by the listing worker), or why none."""

        def __init__(self, url: str, server: DetectedServer | None, problem: str | None) -> None:
            super().__init__()
            self.url = url
            self.server = server
            self.problem = problem

    class Checked(Message):
        """A choice was checked and saved (problem is None), or why it was not."""

        def __init__(self, choice: ProviderChoice, problem: str | None) -> None:
            super().__init__()
            self.choice = choice
            self.problem = problem

    def __init__(
        self, *, detect: Detector | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self._detect = detect or detect_local_servers_async
        self._environ = environ
        self._keys: list[DetectedKey] = detect_api_keys(environ)
        self._servers: list[DetectedServer] = []
        self._choices: dict[str, ProviderChoice] = {}
        self.searching = True
        self.listed: DetectedServer | None = None
        """The models of the URL in the form, once it answered."""
        self._listed_url = ""

    def compose(self) -> ComposeResult:
        where = display_path(paths.user_config_file())
        with Vertical(id="setup-dialog") as dialog:
            dialog.border_title = "Set up a model"
            yield Static(
                "No model is set up yet: choose a local server, a cloud API or the offline "
                "demo.\n"
                f"The choice is saved in {where}; API keys stay in your environment.",
                id="setup-intro",
                markup=False,
            )
            yield Static("Looking for local models…", id="setup-status")
            yield OptionList(*self._options(), id="setup-options")
            if not self._keys:
                yield Static(_cloud_help(), id="setup-cloud")
            with Vertical(id="setup-custom"):
                yield Static("Base URL of an OpenAI-compatible server", classes="setup-label")
                yield Input(placeholder="http://localhost:8080/v1", id="setup-url")
                yield Static("", id="setup-listing")
                yield OptionList(id="setup-models")
                yield Static("Model name, as that server knows it", classes="setup-label")
                yield Input(placeholder="e.g. qwen2.5-coder:14b", id="setup-model")
            yield Static("", id="setup-error")
            yield Static(HINT, id="setup-hint")

    def on_mount(self) -> None:
        self._look_for_servers()

    # ---- detection ---------------------------------------------------------------------

    @work(exclusive=True, group="setup-detect")
    async def _look_for_servers(self) -> None:
        try:
            servers = await self._detect()
        except Exception as exc:  # a detector must never take the screen down
            self.post_message(self.Detected([], f"Could not look for local models ({exc})."))
            return
        self.post_message(self.Detected(servers))

    @on(Detected)
    def _show_servers(self, message: Detected) -> None:
        self.searching = False
        self._servers = message.servers
        status = self.query_one("#setup-status", Static)
        status.update(message.error or _found_sentence(message.servers))
        options = self.query_one(OptionList)
        # Keep the cursor where the user moved it while we looked; else start at the top.
        moved = options.highlighted not in (None, _first_enabled(options))
        current = options.highlighted_option.id if moved and options.highlighted_option else None
        options.set_options(self._options())
        index = _index_of(options, current)
        options.highlighted = index if index is not None else _first_enabled(options)

    def _options(self) -> list[Option | None]:
        """Every option, in order: local models, cloud keys, another URL, the demo."""
        self._choices.clear()
        local: list[_Row] = []
        for server in self._servers:
            if not server.models:
                tip = "ollama pull qwen2.5-coder:7b" if server.name == "Ollama" else "load one"
                detail = f"running, but serves no models yet ({tip})"
                local.append(_Row(f"empty-{server.name}", server.name, "", detail, None))
            for number, model in enumerate(server.models):
                choice = server.choice(model)
                host = display_host(server.base_url)
                local.append(
                    _Row(f"local-{server.name}-{number}", server.name, model, host, choice)
                )
        cloud = [
            _Row(
                f"key-{k.variable}", k.service, k.default_model, f"{k.variable} is set", k.choice()
            )
            for k in self._keys
        ]
        name_width = max((len(row.name) for row in local + cloud), default=0)
        model_width = min(max((len(row.model) for row in local + cloud), default=0), 36)
        options: list[Option | None] = []
        for group in (local, cloud):
            for row in group:
                if row.choice is not None:
                    self._choices[row.option_id] = row.choice
                options.append(row.option(name_width, model_width))
            if group:
                options.append(None)
        options.append(
            Option(
                Text.assemble(("Another OpenAI-compatible server…", "bold"), "  enter its URL"),
                id=CUSTOM_ID,
            )
        )
        options.append(
            Option(
                Text.assemble(("Offline demo", "bold"), "  no model needed: a scripted tour"),
                id=DEMO_ID,
            )
        )
        return options

    # ---- choosing ----------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#setup-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._say("")
        if event.option_id == DEMO_ID:
            self.dismiss(DEMO_CHOICE)
        elif event.option_id == CUSTOM_ID:
            self._show_form(True)
        elif event.option_id in self._choices:
            self._save(self._choices[event.option_id])

    @on(Input.Submitted, "#setup-url")
    def _url_entered(self) -> None:
        url = self._url()
        if problem := _url_problem(url):
            self._say(problem)
            return
        self._say("")
        self._show_models(None, f"Asking {display_host(url)} for its models…")
        self._list_models(url)

    @work(exclusive=True, group="setup-list")
    async def _list_models(self, url: str) -> None:
        from nanotui.config import ProviderConfig, resolve_api_key

        # The key the app would send to this URL (a well-known key only to its own service).
        environ = None if self._environ is None else dict(self._environ)
        key = resolve_api_key(ProviderConfig(base_url=url), environ)
        try:
            server = await list_models_at(url, api_key=key)
        except SetupError as exc:
            self.post_message(self.Listed(url, None, str(exc)))
            return
        self.post_message(self.Listed(url, server, None))

    @on(Listed)
    def _show_listing(self, message: Listed) -> None:
        if message.url != self._url():
            return  # the URL was edited since; Enter on it asks again
        server = message.server
        self.listed, self._listed_url = server, message.url
        # Focus moves on only from the URL: a user already typing a name keeps typing it.
        waiting = self.query_one("#setup-url", Input).has_focus
        if server is None or not server.models:
            host = display_host(message.url)
            empty = f"{host} serves no models yet; type the model name."
            self._show_models(None, message.problem or empty)
            if waiting:
                self.query_one("#setup-model", Input).focus()
            return
        self._show_models(
            server,
            f"{display_host(message.url)} serves {plural(len(server.models), 'model')}; "
            "pick one, or type a name below.",
        )
        if waiting:
            self.query_one("#setup-models", OptionList).focus()

    def _show_models(self, server: DetectedServer | None, sentence: str) -> None:
        listing = self.query_one("#setup-listing", Static)
        listing.update(sentence)
        listing.display = True
        models = self.query_one("#setup-models", OptionList)
        models.clear_options()
        if server is not None:
            models.add_options(
                Option(name, id=f"model-{number}") for number, name in enumerate(server.models)
            )
            models.highlighted = 0
        models.display = server is not None

    @on(OptionList.OptionSelected, "#setup-models")
    def _model_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.listed is None:
            return
        self._say("")
        model = self.listed.models[event.option_index]
        self._save(ProviderChoice("openai-compatible", base_url=self.listed.base_url, model=model))

    @on(Input.Submitted, "#setup-model")
    def _custom_entered(self) -> None:
        url = self._url()
        model = self.query_one("#setup-model", Input).value.strip()
        problem = _url_problem(url)
        if problem:
            self._say(problem)
            self.query_one("#setup-url", Input).focus()
        elif not model:
            self._say("Enter the model name as the server knows it.")
            self.query_one("#setup-model", Input).focus()
        else:
            # A root URL that answered at /v1/models is saved with its /v1.
            listed = self.listed if self._listed_url == url else None
            base_url = listed.base_url if listed is not None else url
            self._save(ProviderChoice(kind="openai-compatible", base_url=base_url, model=model))

    def _url(self) -> str:
        return self.query_one("#setup-url", Input).value.strip().rstrip("/")

    @work(exclusive=True, group="setup-save")
    async def _save(self, choice: ProviderChoice) -> None:
        self.post_message(self.Checked(choice, await check_and_save(choice)))

    @on(Checked)
    def _saved(self, message: Checked) -> None:
        if message.problem:
            self._say(message.problem)
        else:
            self.dismiss(message.choice)

    def action_back(self) -> None:
        """Esc: leave the URL form, or quit the setup (nothing is saved)."""
        if self.query_one("#setup-custom").display:
            self._show_form(False)
            self._say("")
        else:
            self.dismiss(None)

    def _show_form(self, shown: bool) -> None:
        self.query_one("#setup-custom").display = shown
        # The form takes the list's place, so that it fits 80x24 with the models it lists.
        for part in self.query("#setup-status, #setup-options, #setup-cloud"):
            part.display = not shown
        self.query_one("#setup-hint", Static).update(FORM_HINT if shown else HINT)
        if shown:
            self.query_one("#setup-url", Input).focus()
        else:
            self.query_one(OptionList).focus()

    def _say(self, sentence: str) -> None:
        error = self.query_one("#setup-error", Static)
        error.update(sentence)
        error.display = bool(sentence)


def _found_sentence(servers: list[DetectedServer]) -> str:
    if not servers:
        return (
            f"No local model server answered (Ollama on {display_host(OLLAMA_URL)}, "
            f"LM Studio on {display_host(LM_STUDIO_URL)})."
        )
    found = [f"{s.name} ({plural(len(s.models), 'model')})" for s in servers]
    return "Found " + " and ".join(found) + "."


def _cloud_help() -> Text:
    """How to connect each cloud API when no key variable is set: variable and base URL."""
    text = Text()
    text.append("No cloud API key is set. To use one, set its variable and start again:", "dim")
    width = max(len(key.variable) for key in KNOWN_KEYS)
    service_width = max(len(key.service) for key in KNOWN_KEYS)
    for key in KNOWN_KEYS:
        text.append("\n  ")
        text.append(key.variable.ljust(width), "bold")
        text.append(f"  {key.service.ljust(service_width)}  ")
        text.append(key.base_url, "dim")
    return text


def _url_problem(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        return "Enter a URL starting with http:// or https://, e.g. http://localhost:8080/v1."
    return None


def _index_of(options: OptionList, option_id: str | None) -> int | None:
    if option_id is None:
        return None
    try:
        index = options.get_option_index(option_id)
    except OptionDoesNotExist:
        return None
    return None if options.options[index].disabled else index


def _first_enabled(options: OptionList) -> int | None:
    return next((i for i, option in enumerate(options.options) if not option.disabled), None)
