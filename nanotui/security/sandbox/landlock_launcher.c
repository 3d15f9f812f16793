/*
 * The Landlock launcher that runs inside every bwrap sandbox, in C.
 *
 *     landlock-launcher [--write DIR]... -- COMMAND [ARG]...
 *
 * It does what `landlock_exec.py --write DIR... -- COMMAND` does there, and nothing else:
 * writing, creating, removing and renaming are allowed only beneath the --write folders and
 * to a few harmless devices; reading and executing stay allowed everywhere; on ABI 6+ the
 * command may not signal processes outside its domain nor reach abstract Unix sockets
 * outside it. Then it runs the command. A read-only bind does not stop writes to a FIFO or a
 * device of the host; this does (see bwrap.py, `_landlock_inside`).
 *
 * Why C: the Python launcher is an interpreter started for every command, 16 ms of a bwrap
 * command's 22. nanotui compiles this file with the machine's C compiler the first time it
 * needs it (`compiled_launcher.py`) and falls back to the Python launcher where it cannot.
 * The rights and their ABI versions must stay those of landlock_exec.py: a test runs both.
 *
 * Exit code 126: the sandbox could not be applied (nothing ran); 127: the command was not
 * found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The same numbers on every architecture Landlock came to (they are new syscalls). */
#define CREATE_RULESET 444
#define ADD_RULE 445
#define RESTRICT_SELF 446
#define CREATE_RULESET_VERSION 1u
#define RULE_PATH_BENEATH 1

/* Filesystem rights that change something, by the ABI that introduced them. */
#define WRITE_FILE (1ull << 1)
#define WRITE_RIGHTS_V1 (WRITE_FILE | (0x1ffull << 4)) /* bits 4 to 12: make, remove */
#define REFER (1ull << 13)                          /* ABI 2 */
#define TRUNCATE (1ull << 14)                       /* ABI 3 */
#define IOCTL_DEV (1ull << 15)                      /* ABI 5 */
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)      /* ABI 6 */
#define SCOPE_SIGNAL (1ull << 1)

struct ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

/* Devices commands write to all the time (`> /dev/null`); nothing that holds data. */
static const char *const DEVICES[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty"};

static int fail(const char *what) {
    fprintf(stderr, "landlock_exec: the sandbox could not be applied: %s: %s\n", what,
            strerror(errno));
    return 126;
}

/* Allow `rights` beneath `path`; a path that does not exist is left closed. */
static int allow(int ruleset, const char *path, uint64_t rights, uint64_t file_rights) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat info;
    if (fstat(fd, &info) == 0 && !S_ISDIR(info.st_mode))
        rights &= file_rights; /* a file takes no folder rights (EINVAL) */
    struct path_beneath_attr rule = {.allowed_access = rights, .parent_fd = fd};
    long done = syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, &rule, 0);
    int saved = errno;
    close(fd);
    errno = saved;
    return done < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
    const char *write_dirs[argc]; /* at most one per two arguments */
    int count = 0, at = 1;
    for (; at < argc && strcmp(argv[at], "--") != 0; at++) {
        if (strcmp(argv[at], "--write") == 0 && at + 1 < argc) {
            write_dirs[count++] = argv[++at];
        } else {
            fprintf(stderr, "landlock_exec: unknown option %s\n", argv[at]);
            return 126;
        }
    }
    if (at + 1 >= argc) {
        fprintf(stderr, "landlock_exec: give the command after --\n");
        return 126;
    }
    char **command = argv + at + 1;

    long abi = syscall(CREATE_RULESET, NULL, 0, CREATE_RULESET_VERSION);
    if (abi < 1)
        return fail("Landlock is not available in this kernel");
    uint64_t fs = WRITE_RIGHTS_V1 | (abi >= 2 ? REFER : 0) | (abi >= 3 ? TRUNCATE : 0);
    fs |= abi >= 5 ? IOCTL_DEV : 0;
    uint64_t file_rights = WRITE_FILE | (abi >= 3 ? TRUNCATE : 0) | (abi >= 5 ? IOCTL_DEV : 0);
    struct ruleset_attr attr = {
        .handled_access_fs = fs,
        .handled_access_net = 0, /* bwrap's network namespace and seccomp see to the network */
        .scoped = abi >= 6 ? SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL : 0,
    };
    /* Older kernels reject a struct longer than they know: pass only the known part. */
    size_t size = abi < 4 ? 8 : abi < 6 ? 16 : 24;
    int ruleset = (int)syscall(CREATE_RULESET, &attr, size, 0);
    if (ruleset < 0)
        return fail("create");
    for (int i = 0; i < count; i++)
        if (allow(ruleset, write_dirs[i], fs, file_rights) < 0)
            return fail(write_dirs[i]);
    for (size_t i = 0; i < sizeof DEVICES / sizeof *DEVICES; i++)
        if (allow(ruleset, DEVICES[i], file_rights, file_rights) < 0)
            return fail(DEVICES[i]);
    /* Without no_new_privs a process may not restrict itself; it also keeps setuid
     * programs from running with more rights than the sandbox. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail("prctl(NO_NEW_PRIVS)");
    if (syscall(RESTRICT_SELF, ruleset, 0) < 0)
        return fail("landlock_restrict_self");
    close(ruleset);
    /* The command gets the default handling of these, whatever this process inherited. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    execvp(command[0], command);
    fprintf(stderr, "landlock_exec: %s: %s\n", command[0], strerror(errno));
    return 127;
}
