"""A seccomp filter that cuts a process off the network and off the machine's local services.

Landlock covers only TCP connect and bind (and only from ABI 4), so the Landlock backend
adds this filter when a command runs without network, and the bwrap backend hands bwrap the
same program (`--seccomp`): `socket()` for AF_INET, AF_INET6, AF_PACKET, AF_VSOCK or AF_XDP
fails with EPERM, so UDP, ICMP and raw sockets are refused too, on any kernel with seccomp.
`socket(AF_UNIX)` is refused as well: a Unix socket on the host (D-Bus, which starts
programs outside through systemd, `docker.sock`, an ssh-agent) or an abstract one is as far
outside as another machine, and the system call cannot say which path a later `connect()`
names. `socketpair()` stays allowed (it reaches nothing but itself), so pipes between a
command's own processes keep working; netlink stays allowed (it reaches no other program).
`io_uring_setup` is refused as well: io_uring can open sockets without calling `socket()`.
A system call made through another ABI (32-bit `int 0x80`, x32), which would dodge the
numbers checked here, kills the process.

Standard library only, and only modules Python loads at start anyway (no `platform`, no
`contextlib`): the launcher (`landlock_exec.py`) loads it for every command.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# Classic BPF opcodes, as <linux/filter.h> spells them.
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load 32 bits of seccomp_data
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

# Offsets in struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (args[0]'s low half
# first on these little-endian machines; the kernel reads the domain as an int).
NR_OFFSET, ARCH_OFFSET, ARG0_OFFSET = 0, 4, 16

X32_SYSCALL_BIT = 0x40000000
# machine: (audit arch, socket, io_uring_setup, whether x32 numbers must be refused)
ARCHES = {
    "x86_64": (0xC000003E, 41, 425, True),
    "aarch64": (0xC00000B7, 198, 425, False),
}
AF_UNIX, AF_INET, AF_INET6, AF_PACKET, AF_VSOCK, AF_XDP = 1, 2, 10, 17, 40, 44


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def supported() -> bool:
    """Whether this machine's system call numbers are known here."""
    return os.uname().machine in ARCHES


def no_network_program(
    machine: str | None = None, *, loopback: bool = False
) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump-if-true, jump-if-false, k) instructions. `loopback` leaves
    AF_INET and AF_INET6 open, for a network namespace that holds nothing but loopback
    (the allowlist's: its forwarder listens there, see nanotui.security.network)."""
    arch, socket_nr, io_uring_nr, refuse_x32 = ARCHES[machine or os.uname().machine]
    deny = RET_ERRNO | errno.EPERM
    # Jumps count instructions to skip; the three returns sit at the end: allow, deny, kill.
    body = [
        (LD_W_ABS, 0, 0, ARCH_OFFSET),
        ("arch", arch),
        (LD_W_ABS, 0, 0, NR_OFFSET),
    ]
    if refuse_x32:
        body.append(("x32", X32_SYSCALL_BIT))
    body += [
        ("io_uring", io_uring_nr),
        ("socket", socket_nr),
        (LD_W_ABS, 0, 0, ARG0_OFFSET),
        ("family", AF_UNIX),  # to the host's local services: D-Bus, docker.sock, agents
        *([] if loopback else [("family", AF_INET), ("family", AF_INET6)]),
        ("family", AF_PACKET),
        ("family", AF_VSOCK),  # to the host of a virtual machine
        ("family", AF_XDP),
    ]
    allow_at = len(body)  # falls through to allow after the last family check
    deny_at, kill_at = allow_at + 1, allow_at + 2
    program: list[tuple[int, int, int, int]] = []
    for index, step in enumerate(body):
        if isinstance(step[0], int):
            program.append(step)  # type: ignore[arg-type]
            continue
        name, value = step
        to_allow, to_deny, to_kill = (at - index - 1 for at in (allow_at, deny_at, kill_at))
        if name == "arch":  # the wrong ABI: kill; the right one: go on
            program.append((JEQ_K, 0, to_kill, value))
        elif name == "x32":
            program.append((JGE_K, to_kill, 0, value))
        elif name == "io_uring" or name == "family":
            program.append((JEQ_K, to_deny, 0, value))
        elif name == "socket":  # socket(): check the family next; anything else: allow
            program.append((JEQ_K, 0, to_allow, value))
    program += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, deny), (RET_K, 0, 0, RET_KILL_PROCESS)]
    return program


def pack(program: list[tuple[int, int, int, int]]) -> bytes:
    """The program as the kernel reads it (struct sock_filter[]), for tests and inspection."""
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


_compiled: list[tuple[ctypes.CDLL, SockFprog, ctypes.Array[SockFilter]]] = []


def compiled_filter() -> tuple[ctypes.CDLL, SockFprog, ctypes.Array[SockFilter]]:
    """The C library and this machine's filter as the kernel takes it, made once: the fork
    server makes them before forking, so a command's copy only installs them."""
    if not supported():
        raise OSError(f"seccomp system call numbers are not known for {os.uname().machine}")
    if not _compiled:
        program = no_network_program()
        filters = (SockFilter * len(program))(*(SockFilter(*i) for i in program))
        _compiled.append(
            (ctypes.CDLL(None, use_errno=True), SockFprog(len(program), filters), filters)
        )
    return _compiled[0]


def deny_network() -> None:
    """Install the filter on this process and everything it will start; raises OSError."""
    libc, fprog, _ = compiled_filter()
    # A filter may be installed without privileges only under no_new_privs.
    for args, what in (
        ((PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)"),
        ((PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp filter"),
    ):
        if libc.prctl(*args) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{what} failed: {errno.errorcode.get(code, code)}")
