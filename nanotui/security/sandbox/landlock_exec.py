"""Launcher: restrict this process with Landlock (and seccomp), then run the command.

    python -m nanotui.security.sandbox.landlock_exec [--write DIR]... [--read PATH]...
        [--no-network] [--gate] [--reap] [--no-landlock] -- ARGV...

Everything stays executable; writing, creating, removing and renaming are allowed only
beneath the --write folders (and to a few harmless devices such as /dev/null). Everything
stays readable too, unless --read is given: then reading is allowed only beneath the --read
paths and the --write folders (`home.read_grants` lists all but the home folders).
With --no-network, TCP connect and bind are denied by Landlock when the kernel's ABI is 4 or
newer, and a seccomp filter (`seccomp_net.py`) refuses IPv4, IPv6, packet and Unix sockets
of any kind, UDP included, on any kernel (`socketpair` stays allowed). On ABI 6+ the
command also may not signal processes outside its domain nor reach abstract Unix sockets
outside it.

With --gate it first waits for one newline on stdin (the parent sets its resource limits
and cgroup meanwhile), then puts /dev/null on stdin. With --reap it stays as the command's
parent and kills whatever the command left behind, `setsid` or not (`process_reaper.py`);
otherwise it becomes the command. --no-landlock skips Landlock (the plain backend uses the
launcher only to reap). Standard library only, so it runs as
`python -I -S path/to/landlock_exec.py`, which starts faster than importing the package.
Landlock and seccomp stick across exec and to every child; they can never be lifted, only
tightened. Exit code 126 means the sandbox could not be applied.

The plain and Landlock backends do not start it per command: nanotui starts it once as
`--fork-server FD` and each command runs `main` in a forked copy (`fork_server.py`). Inside
a bwrap sandbox the compiled `landlock_launcher.c` applies the same `--write` rights; this
file runs there the one-shot way only where no C compiler was found (`compiled_launcher`).
"""

from __future__ import annotations

import _signal  # the C module: `signal` imports `enum`, a third of this launcher's start
import ctypes
import os
import stat
import sys
from types import ModuleType

TYPE_CHECKING = False  # not `typing`'s: importing it would slow the one-shot launcher down
if TYPE_CHECKING:
    from collections.abc import Callable

SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
PR_SET_NO_NEW_PRIVS = 38
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

# Filesystem rights that change something, by the ABI that introduced them. Read, read-dir
# and execute are left out on purpose: leaving them unhandled keeps them allowed everywhere.
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
WRITE_RIGHTS_V1 = WRITE_FILE | sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))
REFER = 1 << 13  # ABI 2: moving and linking files between folders
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")
"""Devices commands write to all the time (`> /dev/null`); nothing that holds data."""


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_loaded: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    """The C library, loaded once: the fork server loads it before forking, and a fresh
    CDLL in each forked command cost 0.2 ms."""
    if not _loaded:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _loaded.append(libc)
    return _loaded[0]


def _numbers() -> tuple[int, int, int]:
    machine = os.uname().machine
    if machine not in SYSCALLS:
        raise OSError(f"Landlock system call numbers are not known for {machine}")
    return SYSCALLS[machine]


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is missing or disabled."""
    try:
        create, _, _ = _numbers()
    except OSError:
        return 0
    version = _libc().syscall(create, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    return max(0, int(version))


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what} failed: {os.strerror(errno)}")
    return result


def restrict(write_dirs: list[str], *, network: bool, read_paths: list[str] | None = None) -> int:
    """Apply the restriction to this process; returns the ABI version used.

    With `read_paths`, reading is handled too and allowed only beneath them and `write_dirs`.
    """
    ruleset, abi = make_ruleset(write_dirs, network=network, read_paths=read_paths)
    try:
        enforce(ruleset)
    finally:
        os.close(ruleset)
    return abi


def make_ruleset(
    write_dirs: list[str], *, network: bool, read_paths: list[str] | None = None
) -> tuple[int, int]:
    """The restriction as a ruleset (its descriptor, which the caller closes) and the ABI
    version used; making it restricts nothing yet (`enforce`)."""
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    create, add_rule, _ = _numbers()
    libc = _libc()
    fs = WRITE_RIGHTS_V1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    fs |= IOCTL_DEV if abi >= 5 else 0
    reads = READ_FILE | READ_DIR if read_paths is not None else 0
    fs |= reads
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and not network else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = RulesetAttr(fs, net, scoped)
    # Older kernels reject a struct longer than they know, so pass only the known part.
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), 0), "create")
    try:
        file_rights = WRITE_FILE | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0)
        file_rights |= READ_FILE if reads else 0
        rules = [(path, fs) for path in write_dirs] + [(path, file_rights) for path in DEVICES]
        rules += [(path, reads) for path in read_paths or ()]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a device this machine lacks; a missing write folder stays closed
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    rights &= file_rights  # a file takes no folder rights (EINVAL)
                rule = PathBeneathAttr(rights, fd)
                _check(
                    libc.syscall(add_rule, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0), path
                )
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset, abi


def enforce(ruleset: int) -> None:
    """Restrict this process (and all it will start) to the ruleset, for good."""
    libc = _libc()
    # Without no_new_privs an unprivileged process may not restrict itself; it also
    # keeps setuid programs from running with more rights than the sandbox.
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(libc.syscall(_numbers()[2], ruleset, 0), "landlock_restrict_self")


def launcher(*options: str) -> list[str]:
    """The argv that runs this file with `options`; the command follows after "--"."""
    # -I -S: no site packages and no user paths; the launcher needs only the stdlib.
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), *options]


_siblings: dict[str, ModuleType] = {}


def _sibling(name: str) -> ModuleType:
    """A module next to this file, loaded by path: run with -I, the package is not importable,
    and putting this folder on sys.path would let its secrets.py shadow the standard one.
    Loaded once: the fork server loads them before its first fork."""
    if name in _siblings:
        return _siblings[name]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    module = ModuleType(f"_nanotui_{name}")
    module.__file__ = path
    # Not importlib.util: with what it imports it would add milliseconds to every command.
    with open(path, encoding="utf-8") as source:
        exec(compile(source.read(), path, "exec"), module.__dict__)
    _siblings[name] = module
    return module


def practise() -> None:
    """Make a ruleset and start and end the reaper's restricting thread, on nothing: the
    fork server's waiting copy does it once so that its command's start is quicker
    (`fork_server._warm_up`)."""
    if abi_version() >= 1:
        try:
            ruleset, _ = make_ruleset([], network=False, read_paths=["/"])
        except OSError:
            pass
        else:
            os.close(ruleset)
    _sibling("process_reaper").practise()


def _wait_at_gate() -> bool:
    """Wait for the parent's newline, then take /dev/null as stdin; False if it went away."""
    if os.read(0, 1) != b"\n":
        return False
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return True


def main(
    argv: list[str], parent: int | None = None, swept: Callable[[int], None] | None = None
) -> int:
    """Run as the options in `argv` say; `parent` is the fork server's pid when it forked us,
    `swept` what it tells once the command and all it started are gone (`run_reaped`)."""
    write_dirs: list[str] = []
    read_paths: list[str] | None = None
    flags = {"--no-network": False, "--gate": False, "--reap": False, "--no-landlock": False}
    args = list(argv)
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag == "--write" and args:
            write_dirs.append(args.pop(0))
        elif flag == "--read" and args:
            read_paths = [*(read_paths or []), args.pop(0)]
        elif flag in flags:
            flags[flag] = True
        else:
            print(f"landlock_exec: unknown option {flag}", file=sys.stderr)
            return 126
    command = args[1:]
    if not command:
        print("landlock_exec: give the command after --", file=sys.stderr)
        return 126
    # The ruleset is made before the gate, while nanotui sets the limits; what starts the
    # command (with --reap, a thread of the reaper) only enforces it. A failure is told there.
    ruleset: int | OSError | None = None
    if not flags["--no-landlock"]:
        try:
            ruleset = make_ruleset(
                write_dirs, network=not flags["--no-network"], read_paths=read_paths
            )[0]
        except OSError as exc:
            ruleset = exc
    if flags["--reap"] and flags["--no-landlock"] and not flags["--no-network"]:
        # Nothing to restrict: the reaper's thread started ahead ends while we wait.
        _sibling("process_reaper").let_starter_go()
    if flags["--gate"] and not _wait_at_gate():
        return 126  # the parent went away without releasing us
    seccomp = _sibling("seccomp_net") if flags["--no-network"] else None

    def apply_sandbox() -> None:
        if isinstance(ruleset, OSError):
            raise ruleset
        if ruleset is not None:
            enforce(ruleset)
            os.close(ruleset)
        if seccomp is not None:
            seccomp.deny_network()

    # Python starts with SIGPIPE and SIGXFSZ ignored, and exec keeps that: give the command
    # the defaults, or `yes | head` would spin on EPIPE and a file-size limit would not stop it.
    for signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(signum, _signal.SIG_DFL)
    if flags["--reap"]:
        # The reaper stays outside the sandbox it puts on the command (see process_reaper).
        bare = flags["--no-landlock"] and seccomp is None
        prepare = None if bare else apply_sandbox
        return _sibling("process_reaper").run_reaped(command, prepare, parent, swept)
    try:
        apply_sandbox()
    except OSError as exc:
        print(f"landlock_exec: the sandbox could not be applied: {exc}", file=sys.stderr)
        return 126
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"landlock_exec: {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-server"]:
        # Started once per nanotui process: it forks a copy of itself that runs `main` for
        # each command (`fork_server.py`).
        # Everything the copies use, loaded before the first fork.
        _sibling("process_reaper")
        _sibling("seccomp_net").compiled_filter()
        abi_version()
        import warnings  # noqa: F401  (os.execvp imports it: once here, not in every command)

        server = _sibling("fork_server")
        sys.exit(server.serve(int(sys.argv[2]), main, _sibling("process_reaper"), practise))
    sys.exit(main(sys.argv[1:]))
