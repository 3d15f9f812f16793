"""`[sandbox] network = "allowlist"`: a sandboxed command reaches listed names, and nothing else.

Real parts throughout: bwrap with its own network namespace, the forwarder inside it, the
proxy on this side, `curl` and `pip download` inside, and loopback HTTP and HTTPS servers
standing in for the named hosts (the proxy's `open_upstream` sends every name to them, so
an unlisted name would be reached if the proxy did not refuse it).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from network_support import WHEEL, Site
from pilot_support import app_on_server, send, wait_for
from run_support import run

from nanotui.config import Settings
from nanotui.engine.assembly import build_agent, build_tool_environment
from nanotui.governance.audit import read_events
from nanotui.protocol.events import NetworkConnection
from nanotui.security.network.allowlist import DomainAllowlist
from nanotui.security.network.proxy import AllowlistProxy, ConnectionDecision
from nanotui.security.sandbox.bwrap import BwrapRunner, probe_bwrap
from nanotui.tui.widgets.approval_panel import ApprovalPanel

pytestmark = pytest.mark.skipif(
    probe_bwrap() is not None or shutil.which("curl") is None,
    reason=f"needs bwrap and curl: {probe_bwrap()}",
)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[int, int], bytes]]:
    """A plain and a TLS server on loopback ({80: port, 443: port}) and the CA to trust:
    a certificate for pypi.org and evil.example, made for the test."""
    folder = tmp_path_factory.mktemp("sites")
    key, cert = folder / "key", folder / "cert"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=pypi.org"),
            *("-addext", "subjectAltName=DNS:pypi.org,DNS:evil.example"),
        ],
        check=True,
        capture_output=True,
    )
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    for server in (plain, tls):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {80: plain.server_address[1], 443: tls.server_address[1]}, cert.read_bytes()
    finally:
        for server in (plain, tls):
            server.shutdown()
            server.server_close()


class Sandbox:
    """A bwrap runner with network = "allowlist" for `pypi.org`, and what its proxy decided."""

    def __init__(self, workspace: Path, ports: dict[int, int]) -> None:
        self.decisions: list[ConnectionDecision] = []

        async def every_name_to_loopback(host: str, port: int):  # type: ignore[no-untyped-def]
            return await asyncio.open_connection("127.0.0.1", ports[port])

        self.proxy = AllowlistProxy(
            DomainAllowlist(["pypi.org"]), self.decisions.append, every_name_to_loopback
        )
        self.runner = BwrapRunner(workspace, network=False, proxy=self.proxy)
        self.workspace = workspace

    async def run(self, command: str, timeout_s: float = 30) -> tuple[int, str]:
        result = await self.runner.run(
            command, cwd=self.workspace, timeout_s=timeout_s, max_output_bytes=100_000
        )
        return result.exit_code, result.stdout + result.stderr


@pytest.fixture
async def sandbox(tmp_path: Path, sites: tuple[dict[int, int], bytes]) -> Iterator[Sandbox]:
    ports, ca = sites
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "ca.crt").write_bytes(ca)  # not *.pem: that is a protected credential
    box = Sandbox(workspace, ports)
    try:
        yield box
    finally:
        await box.proxy.close()


async def test_a_listed_name_is_reached_over_https_and_http(sandbox: Sandbox) -> None:
    code, out = await sandbox.run(
        "curl -sS --cacert ca.crt https://pypi.org/simple/ && curl -sS http://PyPI.org/plain"
    )
    assert code == 0, out
    assert out == "hello from pypi.org/simple/\nhello from pypi.org/plain\n"
    assert [(d.method, d.host, d.port, d.allowed) for d in sandbox.decisions] == [
        ("CONNECT", "pypi.org", 443, True),
        ("GET", "pypi.org", 80, True),
    ]


async def test_the_site_asked_is_the_one_checked_whatever_host_the_client_names(
    sandbox: Sandbox,
) -> None:
    # Behind one address (a CDN) the Host header picks the site: it must be the listed one.
    code, out = await sandbox.run("curl -sS -H 'Host: evil.example' http://pypi.org/h")
    assert code == 0 and out == "hello from pypi.org/h\n"


async def test_a_listed_name_that_points_at_this_machine_is_not_reached(tmp_path: Path) -> None:
    # The real resolver: "localhost" is listed, but loopback (like a private network or a
    # cloud's metadata address) is no public address.
    decisions: list[ConnectionDecision] = []
    proxy = AllowlistProxy(DomainAllowlist(["localhost"]), decisions.append)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    try:
        result = await BwrapRunner(workspace, network=False, proxy=proxy).run(
            "curl -sS http://localhost:80/ -o /dev/null -w '%{http_code}'",
            cwd=workspace,
            timeout_s=30,
            max_output_bytes=10_000,
        )
    finally:
        await proxy.close()
    assert result.stdout == "403", result.stdout + result.stderr
    [refused] = decisions
    assert not refused.allowed and "which is not public" in refused.reason


async def test_pip_downloads_from_a_listed_index(sandbox: Sandbox) -> None:
    code, out = await sandbox.run(
        "python3 -m pip download --no-deps --disable-pip-version-check -q "
        "--index-url https://pypi.org/simple/ --cert ca.crt -d wheels tinypkg",
        timeout_s=60,
    )
    assert code == 0, out
    assert (sandbox.workspace / "wheels" / WHEEL).read_bytes() == Site.wheel


async def test_unlisted_names_addresses_and_other_ports_are_refused(sandbox: Sandbox) -> None:
    code, out = await sandbox.run("curl -sSf http://evil.example/secret")
    assert code != 0 and "hello" not in out
    code, out = await sandbox.run("curl -sS --cacert ca.crt https://evil.example/")
    assert code != 0 and "CONNECT tunnel failed, response 403" in out
    code, out = await sandbox.run("curl -sS http://127.0.0.1:80/ ; curl -sS http://0x7f000001/")
    assert "hello" not in out
    # Another port of a listed name, asked of the forwarder by hand.
    raw = (
        "exec 3<>/dev/tcp/127.0.0.1/3128; printf 'CONNECT pypi.org:22 HTTP/1.1\\r\\n\\r\\n' >&3;"
        " head -c 40 <&3"
    )
    code, out = await sandbox.run(raw)
    assert out.startswith("HTTP/1.1 403"), out
    refused = {(d.host, d.port) for d in sandbox.decisions if not d.allowed}
    assert refused == {
        ("evil.example", 80),
        ("evil.example", 443),
        ("127.0.0.1", 80),  # curl spells 0x7f000001 so too; DomainAllowlist is tested below
        ("pypi.org", 22),
    }
    assert all(d.reason for d in sandbox.decisions)


async def test_names_are_not_resolved_inside_nor_is_the_proxy_bypassed(sandbox: Sandbox) -> None:
    # A lookup that would carry data out (DNS exfiltration) finds no resolver to ask.
    _, out = await sandbox.run(
        "getent hosts secret-data.pypi.org; echo dns=$?; "
        "curl -sS --noproxy '*' --connect-timeout 3 http://pypi.org/; echo direct=$?"
    )
    assert "dns=2" in out and "direct=6" in out and "hello" not in out
    # A proxy of the command's own, relaying to nanotui's, is refused the same unlisted name.
    relay = (
        "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 3128)); "
        "s.sendall(b'GET http://evil.example/ HTTP/1.1\\r\\nHost: evil.example\\r\\n\\r\\n'); "
        'print(s.recv(40))"'
    )
    _, out = await sandbox.run(relay)
    assert "403" in out and "hello" not in out
    assert not any(d.allowed for d in sandbox.decisions)


async def test_a_person_may_let_a_command_reach_an_unlisted_name(sandbox: Sandbox) -> None:
    asked: list[tuple[str, int]] = []

    async def person(host: str, port: int) -> bool:
        asked.append((host, port))
        return host == "evil.example"

    sandbox.proxy.ask = person
    code, out = await sandbox.run(
        "curl -sSf http://evil.example/ok; curl -sSf http://other.example/"
    )
    assert out.startswith("hello from evil.example/ok\n") and code != 0
    # Only a well-formed name on its port is asked about; an address or a port is refused.
    await sandbox.run("curl -sS http://127.0.0.1/; curl -sS http://evil.example:8080/")
    assert asked == [("evil.example", 80), ("other.example", 80)]
    reasons = [(d.host, d.allowed, d.reason) for d in sandbox.decisions][:2]
    assert reasons[0] == ("evil.example", True, "allowed by the user")
    assert reasons[1][:2] == ("other.example", False)


def test_a_headless_run_refuses_an_unlisted_name_and_logs_the_question(
    fake_server, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "config.toml").write_text(
        '[sandbox]\nnetwork = "allowlist"\nallowed_domains = ["pypi.org"]\n'
        '[policy]\nallow = ["python3 *"]\n'
    )
    workspace = tmp_path / "repo"
    workspace.mkdir()
    reach = "python3 -c \"import urllib.request as u; u.urlopen('http://evil.example/')\""
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": reach})]),
        openai_reply(text="It could not reach it."),
    )
    code, events, _ = run(fake_server, workspace, capsys, "--mode", "full-auto")
    assert code == 0
    [asked] = [e for e in events if e["type"] == "approval_requested"]
    assert asked["tool"] == "network" and asked["command"] == "connect to evil.example:80"
    [answer] = [e for e in events if e["type"] == "approval_resolved"]
    assert answer["decision"] == "reject" and answer["by"] == "headless"
    [refused] = [e for e in events if e["type"] == "network_connection"]
    assert refused["host"] == "evil.example" and refused["allowed"] is False
    [result] = [e for e in events if e["type"] == "tool_result"]
    assert "403" in result["content"]


def test_the_settings_build_the_proxy_and_the_log_keeps_each_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    settings = Settings(
        provider={"kind": "demo"},
        sandbox={"network": "allowlist", "allowed_domains": ["pypi.org"]},
    )
    workspace = tmp_path / "ws"
    workspace.mkdir()
    environment = build_tool_environment(settings, workspace)
    runner = environment.context.runner.inner  # type: ignore[attr-defined]
    assert isinstance(runner, BwrapRunner) and runner.proxy is environment.proxy
    assert runner.proxy.allowlist.allows("pypi.org") and not runner.network
    agent = build_agent(settings, workspace)
    try:
        agent.record_connection(ConnectionDecision("evil.example", 443, "CONNECT", False, "no"))
        assert agent.log is not None
        logged = [e for e in read_events(agent.log.path) if isinstance(e, NetworkConnection)]
        assert [(e.host, e.allowed) for e in logged] == [("evil.example", False)]
    finally:
        agent.close()


def test_allowlist_patterns() -> None:
    allowlist = DomainAllowlist(["pypi.org", "*.pythonhosted.org"])
    assert allowlist.allows("PyPI.org.") and allowlist.allows("files.pythonhosted.org")
    for host in ("pythonhosted.org", "pypi.org.evil.com", "evil.org", "127.0.0.1", "127.1"):
        assert not allowlist.allows(host), host
    for host in ("0x7f000001", "[::1]", "2130706433", "a_b.pypi.org", ""):
        assert not allowlist.allows(host), host
    assert socket.inet_aton("127.1")  # the spelling the check above must see as an address


async def test_the_app_asks_about_an_unlisted_name_in_the_approval_pane(
    fake_server, home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    reach = "python3 -c \"import urllib.request as u; u.urlopen('http://evil.example/')\""
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": reach})]),
        openai_reply(text="It could not reach it."),
    )
    app = app_on_server(
        fake_server,
        workspace,
        "s-network",
        approval={"mode": "full-auto"},
        policy={"allow": ["python3 *"]},
        sandbox={"network": "allowlist", "allowed_domains": ["pypi.org"]},
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "reach it")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.request is not None and panel.armed, "the question")
        assert panel.request is not None and panel.request.tool == "network"
        assert panel.request.command == "connect to evil.example:80"
        await pilot.press("n", "enter")
        await wait_for(pilot, lambda: not app.screen.busy, "the end of the turn")
    [refused] = [e for e in read_events(app.session.log_path) if isinstance(e, NetworkConnection)]
    assert refused.host == "evil.example" and not refused.allowed
