/*
 * leash-sandbox: the launcher `leash enforce` runs the service through. It restricts itself with
 * no_new_privs, a Landlock domain and a seccomp filter, then executes the service: after execve
 * only this thread exists, so every thread Node starts inherits the restrictions, and so does every
 * process the service starts. Nothing in the service can lift them.
 *
 * Rules come from the supervisor on the command line (never from a file the service could write):
 *
 *   leash-sandbox [-r PATH] [-w PATH] [-x PATH] [-b PORT] [-c PORT] [-B] [-C] [-u] [-U]
 *                 -- EXECUTABLE ARGV0 [ARG...]
 *   leash-sandbox --probe        prints what this kernel supports, as one JSON line
 *   leash-sandbox --wait ...     the thin waiter `leash learn|report|enforce` becomes (below)
 *
 *   -r  read files and list directories beneath PATH      -b  TCP bind on PORT (0: any free port)
 *   -w  write, create, remove, rename beneath PATH        -c  TCP connect to PORT
 *   -x  execute (and read) PATH                           -B / -C  bind / connect to any port
 *   -u  allow UDP sockets                                 -U  allow unix-domain sockets
 *
 * Landlock is negotiated best effort, like the kernel's samples/landlock/sandboxer.c: the rights
 * this kernel knows are handled, newer ones are left out. LEASH_KERNEL_ABI_MAX caps the ABI used
 * (0 simulates a kernel without Landlock; the supervisor sets it in tests). No external library:
 * the seccomp filter is a BPF program written here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Landlock's UAPI, defined here so that old kernel headers (ABI 1 only) still build this. */
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct ll_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port_attr {
  uint64_t allowed_access;
  uint64_t port;
};

/* What a rule on a file (not a directory) may carry; the kernel refuses directory rights there. */
#define FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE)
#define READ_RIGHTS (LL_FS_READ_FILE | LL_FS_READ_DIR)
/* Device nodes are never created: no MAKE_CHAR / MAKE_BLOCK. */
#define WRITE_RIGHTS                                                                             \
  (LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_MAKE_REG | LL_FS_MAKE_DIR | LL_FS_REMOVE_FILE |     \
   LL_FS_REMOVE_DIR | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_SYM | LL_FS_REFER)
#define EXEC_RIGHTS (LL_FS_EXECUTE | LL_FS_READ_FILE)

#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "leash-sandbox supports x86-64 and aarch64"
#endif

static const char *self = "leash-sandbox";

static void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", self, what, strerror(errno));
  exit(126);
}

static int landlock_abi(void) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
  if (abi < 0) abi = 0;
  const char *cap = getenv("LEASH_KERNEL_ABI_MAX");
  if (cap != NULL && *cap != '\0') {
    long max = strtol(cap, NULL, 10);
    if (max >= 0 && max < abi) abi = max;
  }
  return (int)abi;
}

static uint64_t handled_fs(int abi) {
  uint64_t fs = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR |
                LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
                LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK |
                LL_FS_MAKE_SYM;
  if (abi >= 2) fs |= LL_FS_REFER;
  if (abi >= 3) fs |= LL_FS_TRUNCATE;
  /* LANDLOCK_ACCESS_FS_IOCTL_DEV (ABI 5) stays unhandled: Node sets terminal modes on the
   * devices it is given, and only granted devices can be opened at all. */
  return fs;
}

static int seccomp_supported(void) {
  /* A NULL filter: EFAULT where seccomp filters exist, EINVAL where they do not. */
  errno = 0;
  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL);
  return errno == EFAULT;
}

/* ---------------------------------------------------------------------------------------------
 * seccomp: what Landlock does not cover. Denials are errors (EPERM), never kills, so a service
 * sees an ordinary failure; a foreign architecture or x32 call is killed (no legitimate use). */

#define MAX_FILTER 512
static struct sock_filter filter[MAX_FILTER];
static unsigned short filter_len = 0;

static void emit(struct sock_filter insn) {
  if (filter_len >= MAX_FILTER) {
    fprintf(stderr, "%s: seccomp filter too long\n", self);
    exit(126);
  }
  filter[filter_len++] = insn;
}

#define LOAD_NR() emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)))
/* The low 32 bits of an argument (little-endian on both supported architectures). */
#define LOAD_ARG(i) emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i])))
#define RET(v) emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))
#define JEQ(k, t, f) emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f)))
#define JSET(k, t, f) emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f)))
#define JGE(k, t, f) emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (k), (t), (f)))
#define ALU_AND(k) emit((struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, (k)))
#define ALLOW SECCOMP_RET_ALLOW
#define EPERM_ (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ENOSYS_ (SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))

static const long denied_syscalls[] = {
    /* other processes' memory, and debugging */
    __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev,
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd,
#endif
    /* kernel keyrings */
    __NR_keyctl, __NR_add_key, __NR_request_key,
    /* io_uring performs file and network operations outside the checks of ordinary syscalls */
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
    __NR_userfaultfd, __NR_bpf, __NR_perf_event_open,
    /* the kernel itself, mounts and namespaces */
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module, __NR_finit_module, __NR_delete_module, __NR_mount, __NR_umount2,
    __NR_pivot_root, __NR_unshare, __NR_setns, __NR_chroot, __NR_swapon, __NR_swapoff,
    __NR_reboot, __NR_acct, __NR_quotactl, __NR_syslog, __NR_settimeofday, __NR_clock_settime,
    __NR_open_by_handle_at, __NR_name_to_handle_at, __NR_vhangup,
#ifdef __NR_open_tree
    __NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
#if defined(__x86_64__)
    __NR_iopl, __NR_ioperm, __NR_modify_ldt, __NR_uselib,
#endif
};

/* Every namespace flag clone(2) takes. */
#define CLONE_NAMESPACES 0x7e020000u

static void build_filter(int udp, int unix_sockets) {
  emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  JEQ(AUDIT_ARCH_NATIVE, 1, 0);
  RET(SECCOMP_RET_KILL_PROCESS);
  LOAD_NR();
#if defined(__x86_64__)
  JGE(0x40000000u, 0, 1); /* x32 numbers: another way into the same kernel */
  RET(SECCOMP_RET_KILL_PROCESS);
#endif
  for (size_t i = 0; i < sizeof denied_syscalls / sizeof denied_syscalls[0]; i++) {
    JEQ((uint32_t)denied_syscalls[i], 0, 1);
    RET(EPERM_);
  }
  /* clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc use clone. */
#ifdef __NR_clone3
  JEQ(__NR_clone3, 0, 1);
  RET(ENOSYS_);
#endif
  JEQ(__NR_clone, 0, 4);
  LOAD_ARG(0);
  JSET(CLONE_NAMESPACES, 0, 1);
  RET(EPERM_);
  RET(ALLOW);

  /* socket(domain, type, protocol): TCP, unix (if granted), UDP (if granted), netlink route
   * (interface addresses, for getaddrinfo); never raw or packet sockets. */
  JEQ(__NR_socket, 0, 19);
  LOAD_ARG(0);
  JEQ(AF_UNIX, 0, 1);
  RET(unix_sockets ? ALLOW : EPERM_);
  JEQ(AF_NETLINK, 0, 2);
  LOAD_ARG(2);
  JEQ(0 /* NETLINK_ROUTE */, 11, 12);
  JEQ(AF_INET, 1, 0);
  JEQ(AF_INET6, 0, 10);
  LOAD_ARG(1);
  ALU_AND(0xf);
  JEQ(SOCK_DGRAM, 0, 1);
  RET(udp ? ALLOW : EPERM_);
  JEQ(SOCK_STREAM, 0, 5);
  LOAD_ARG(2);
  JEQ(0, 2, 0);
  JEQ(IPPROTO_TCP, 1, 0);
  RET(EPERM_);
  RET(ALLOW);  /* TCP, and netlink route (jumped to) */
  RET(EPERM_); /* any other socket (jumped to) */
  RET(ALLOW);  /* not a socket call */
}

/* ------------------------------------------------------------------------------------------- */

enum { MAX_RULES = 4096 };
struct path_rule {
  const char *path;
  uint64_t rights;
};
static struct path_rule paths[MAX_RULES];
static size_t path_count = 0;
static uint64_t bind_ports[MAX_RULES], connect_ports[MAX_RULES];
static size_t bind_count = 0, connect_count = 0;

static void add_path(const char *path, uint64_t rights) {
  if (path_count >= MAX_RULES) {
    fprintf(stderr, "%s: too many path rules\n", self);
    exit(126);
  }
  paths[path_count].path = path;
  paths[path_count].rights = rights;
  path_count++;
}

static uint64_t parse_port(const char *text) {
  char *end = NULL;
  long port = strtol(text, &end, 10);
  if (end == text || *end != '\0' || port < 0 || port > 65535) {
    fprintf(stderr, "%s: not a port: %s\n", self, text);
    exit(126);
  }
  return (uint64_t)port;
}

static void usage(void) {
  fprintf(stderr, "usage: %s [-r|-w|-x PATH] [-b|-c PORT] [-B] [-C] [-u] [-U] -- FILE ARGV0 [ARG...]\n       %s --probe\n", self, self);
  exit(126);
}

static void apply_landlock(int abi, int bind_any, int connect_any) {
  struct ll_ruleset_attr attr = {0};
  size_t size = sizeof attr;
  attr.handled_access_fs = handled_fs(abi);
  if (abi >= 4) {
    if (!bind_any) attr.handled_access_net |= LL_NET_BIND_TCP;
    if (!connect_any) attr.handled_access_net |= LL_NET_CONNECT_TCP;
  }
  if (abi >= 6) attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
  /* Older kernels reject a struct longer than they know with non-zero tail fields. */
  if (abi < 6) size = offsetof(struct ll_ruleset_attr, scoped);
  if (abi < 4) size = offsetof(struct ll_ruleset_attr, handled_access_net);
  int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) die("landlock_create_ruleset");

  for (size_t i = 0; i < path_count; i++) {
    int fd = open(paths[i].path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
      /* The supervisor passes existing paths; one that vanished since grants nothing. */
      if (errno == ENOENT || errno == ENOTDIR) continue;
      die(paths[i].path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) die(paths[i].path);
    uint64_t rights = paths[i].rights & attr.handled_access_fs;
    if (!S_ISDIR(st.st_mode)) rights &= FILE_RIGHTS;
    if (rights != 0) {
      struct ll_path_beneath_attr rule = {.allowed_access = rights, .parent_fd = fd};
      if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) != 0)
        die(paths[i].path);
    }
    close(fd);
  }
  if (abi >= 4) {
    for (size_t i = 0; i < bind_count && !bind_any; i++) {
      struct ll_net_port_attr rule = {.allowed_access = LL_NET_BIND_TCP, .port = bind_ports[i]};
      if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0) != 0)
        die("landlock_add_rule (bind port)");
    }
    for (size_t i = 0; i < connect_count && !connect_any; i++) {
      struct ll_net_port_attr rule = {.allowed_access = LL_NET_CONNECT_TCP,
                                      .port = connect_ports[i]};
      if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0) != 0)
        die("landlock_add_rule (connect port)");
    }
  }
  if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) die("landlock_restrict_self");
  close(ruleset);
}

/* ---------------------------------------------------------------------------------------------
 * --wait: what `leash learn|report|enforce` turns into once it has prepared the service's start.
 * The Node CLI replaces itself with this (process.execve: same pid, so whatever waits for leash
 * still waits for the same process and its signals still reach it), and this small program
 *
 *   - starts the service's command (which may be this launcher again, in sandbox mode) with the
 *     service's environment and, with -p, a pipe on file descriptor 3 for the agent's violations;
 *   - forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it;
 *   - appends every whole line arriving on the pipe to the spool file (-p), outside the service's
 *     sandbox, holding the policy's lock (-l) while it appends;
 *   - when the service has ended (and its pipe closed, or 2 s later: a child of the service that
 *     holds the pipe open does not keep leash waiting), runs the command given with -e, its
 *     status appended as the last argument, if -a is given or the spool is not empty: that is
 *     `leash` again, which validates the spool's lines and merges them into the violations file
 *     (and prints learn's summary), then exits with the service's status;
 *   - else exits with the service's status itself: its exit code, or 128 + n when signal n ended
 *     it.
 *
 *   leash-sandbox --wait [-p SPOOL -l LOCK] [-E NAME=VALUE | -E NAME]... [-a] [-e WORD]...
 *                 -- FILE [ARG...]
 *
 *   -E  set (NAME=VALUE) or remove (NAME) a variable in the service's environment only
 *
 * The lock: leash's policy lock is an SQLite transaction on an empty file (src/store/lock.ts), so
 * this takes the POSIX byte-range lock SQLite's unix VFS would (os_unix.c): a write lock on the
 * PENDING byte (0x40000000), the RESERVED byte after it and the 510 SHARED bytes, which excludes
 * every SQLite connection at any lock level, as `BEGIN EXCLUSIVE` does. Only F_SETLK, never a
 * blocking wait: while another process holds the lock, lines stay buffered and are tried again. */

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

#define SQLITE_PENDING_BYTE 0x40000000L
#define SQLITE_LOCK_BYTES 512
/* The longest line kept: an agent's flush is far smaller; a longer one is dropped. */
#define WAIT_LINE_MAX (16L << 20)
/* The spool stops growing here until leash merges it; what arrives beyond is dropped. */
#define WAIT_SPOOL_MAX (256L << 20)
/* How long lines may wait for the lock after the service has ended. */
#define WAIT_LOCK_GIVE_UP_MS 10000
#define WAIT_DRAIN_MS 2000

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define FORWARDED_COUNT (sizeof forwarded_signals / sizeof forwarded_signals[0])

static volatile sig_atomic_t waited_pid = 0;
static volatile sig_atomic_t child_changed = 0;

static void forward_signal(int sig) {
  int saved = errno;
  if (waited_pid > 0) kill((pid_t)waited_pid, sig);
  errno = saved;
}

static void note_child(int sig) {
  (void)sig;
  child_changed = 1;
}

static void close_from(unsigned int first) {
  if (syscall(__NR_close_range, first, ~0U, 0) == 0) return;
  struct rlimit limit;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      (long)limit.rlim_cur < max)
    max = (long)limit.rlim_cur;
  for (long fd = first; fd < max; fd++) close((int)fd);
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const char *errno_name(int e) {
  switch (e) {
  case ENOENT: return "ENOENT";
  case EACCES: return "EACCES";
  case EPERM: return "EPERM";
  case ENOEXEC: return "ENOEXEC";
  case ENOTDIR: return "ENOTDIR";
  case ELOOP: return "ELOOP";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case E2BIG: return "E2BIG";
  case ENOMEM: return "ENOMEM";
  case ETXTBSY: return "ETXTBSY";
  case EAGAIN: return "EAGAIN";
  case EISDIR: return "EISDIR";
  default: return "errno";
  }
}

struct spool {
  const char *path; /* NULL: no violations pipe */
  const char *lock_path;
  int lock_fd;
  char *buf;
  size_t len, cap;
  int skipping;  /* inside a line that was too long: drop up to its newline */
  int warned_lock, warned_full, warned_long, warned_write;
};

static void spool_warn(int *once, const char *what) {
  if (*once) return;
  *once = 1;
  fprintf(stderr, "leash: %s\n", what);
}

/* Appends `n` bytes (whole lines) to the spool under the policy's lock. 0: appended or dropped
 * for good (said once on stderr); 1: the lock is held by someone else, try again later. */
static int spool_append(struct spool *s, const char *data, size_t n) {
  char message[4096];
  if (s->lock_fd < 0) {
    s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
      snprintf(message, sizeof message, "cannot open the policy lock %s: %s; violations are lost",
               s->lock_path, strerror(errno));
      spool_warn(&s->warned_lock, message);
      return 0;
    }
  }
  struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SQLITE_PENDING_BYTE,
                       .l_len = SQLITE_LOCK_BYTES};
  if (fcntl(s->lock_fd, F_SETLK, &lock) != 0) {
    if (errno == EACCES || errno == EAGAIN || errno == EINTR) return 1;
    snprintf(message, sizeof message, "cannot lock %s: %s; violations are lost", s->lock_path,
             strerror(errno));
    spool_warn(&s->warned_lock, message);
    return 0;
  }
  int fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  struct stat st;
  if (fd < 0) {
    snprintf(message, sizeof message, "cannot write %s: %s; violations are lost", s->path,
             strerror(errno));
    spool_warn(&s->warned_write, message);
  } else if (fstat(fd, &st) == 0 && st.st_size + (off_t)n > WAIT_SPOOL_MAX) {
    snprintf(message, sizeof message,
             "%s has reached %ld MiB: violations are dropped until leash merges it",
             s->path, WAIT_SPOOL_MAX >> 20);
    spool_warn(&s->warned_full, message);
  } else {
    size_t done = 0;
    while (done < n) {
      ssize_t w = write(fd, data + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        snprintf(message, sizeof message, "cannot write %s: %s; violations are lost", s->path,
                 strerror(errno));
        spool_warn(&s->warned_write, message);
        break;
      }
      done += (size_t)w;
    }
  }
  if (fd >= 0) close(fd);
  lock.l_type = F_UNLCK;
  fcntl(s->lock_fd, F_SETLK, &lock);
  return 0;
}

/* Appends the buffer's whole lines (all of it, a newline added, when `all`). 1: lock busy. */
static int spool_flush(struct spool *s, int all) {
  if (s->len == 0) return 0;
  if (all && s->buf[s->len - 1] != '\n') s->buf[s->len++] = '\n'; /* cap keeps one spare byte */
  size_t end = s->len;
  while (end > 0 && s->buf[end - 1] != '\n') end--;
  if (end == 0) return 0;
  if (spool_append(s, s->buf, end)) return 1;
  memmove(s->buf, s->buf + end, s->len - end);
  s->len -= end;
  return 0;
}

/* Takes what read() put after s->len: drops the rest of an over-long line, grows the buffer. */
static void spool_took(struct spool *s, size_t n) {
  size_t start = s->len;
  s->len += n;
  if (s->skipping) {
    char *nl = memchr(s->buf + start, '\n', n);
    if (nl == NULL) {
      s->len = start;
      return;
    }
    size_t keep = (size_t)(s->buf + s->len - (nl + 1));
    memmove(s->buf + start, nl + 1, keep);
    s->len = start + keep;
    s->skipping = 0;
  }
  if (s->len + 1 < s->cap) return;
  /* Full. Whole lines waiting for the lock: let the pipe wait (the caller stops reading). */
  if (memchr(s->buf, '\n', s->len) != NULL) return;
  if (s->cap >= (size_t)WAIT_LINE_MAX) {
    spool_warn(&s->warned_long, "dropped a violations record longer than 16 MiB from the service");
    s->len = 0;
    s->skipping = 1;
    return;
  }
  char *bigger = realloc(s->buf, s->cap * 2);
  if (bigger == NULL) {
    spool_warn(&s->warned_long, "out of memory for a violations record; dropped it");
    s->len = 0;
    s->skipping = 1;
    return;
  }
  s->buf = bigger;
  s->cap *= 2;
}

static void wait_usage(void) {
  fprintf(stderr, "usage: %s --wait [-p SPOOL -l LOCK] [-E NAME[=VALUE]]... [-a] [-e WORD]... -- FILE [ARG...]\n", self);
  exit(126);
}

static int wait_main(int argc, char **argv) {
  struct spool s = {.lock_fd = -1};
  char **env_changes = calloc((size_t)argc + 1, sizeof(char *));
  char **after = calloc((size_t)argc + 2, sizeof(char *));
  size_t env_count = 0, after_count = 0;
  int always = 0, i = 0;
  if (env_changes == NULL || after == NULL) die("calloc");
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "-a") == 0) always = 1;
    else if (i + 1 < argc && strcmp(a, "-p") == 0) s.path = argv[++i];
    else if (i + 1 < argc && strcmp(a, "-l") == 0) s.lock_path = argv[++i];
    else if (i + 1 < argc && strcmp(a, "-E") == 0) env_changes[env_count++] = argv[++i];
    else if (i + 1 < argc && strcmp(a, "-e") == 0) after[after_count++] = argv[++i];
    else wait_usage();
  }
  if (i >= argc || (s.path != NULL && s.lock_path == NULL)) wait_usage();
  char **command = &argv[i];

  /* Only what this program opens from here on is open: every descriptor the CLI inherited beyond
   * stdio goes, as Node's spawn would not have passed it on either. Node leaves pipes on stdio in
   * non-blocking mode, which it would have undone at exit: undo it here, for the service. */
  close_from(3);
  for (int fd = 0; fd < 3; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  signal(SIGPIPE, SIG_IGN);

  sigset_t blocked, none, forwarded;
  sigemptyset(&none);
  sigemptyset(&forwarded);
  for (size_t k = 0; k < FORWARDED_COUNT; k++) sigaddset(&forwarded, forwarded_signals[k]);
  blocked = forwarded;
  sigaddset(&blocked, SIGCHLD);
  /* Until the child exists, signals wait (then reach it); SIGCHLD is only taken inside ppoll. */
  sigprocmask(SIG_BLOCK, &blocked, NULL);

  int violations[2] = {-1, -1};
  if (s.path != NULL) {
    if (pipe2(violations, O_CLOEXEC) != 0) die("pipe");
    s.cap = 64 * 1024;
    s.buf = malloc(s.cap);
    if (s.buf == NULL) die("malloc");
  }
  int exec_error[2];
  if (pipe2(exec_error, O_CLOEXEC) != 0) die("pipe");

  int status = 0;
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "leash: cannot run %s: %s (%s)\n", command[0], strerror(errno),
            errno_name(errno));
    status = 127;
  } else if (pid == 0) {
    /* The service starts as Node's spawn starts a child: default signal handling, nothing
     * blocked, its own environment, the pipe (if any) on descriptor 3 and nothing else. */
    for (int sig = 1; sig < NSIG; sig++)
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t k = 0; k < env_count; k++) {
      if (strchr(env_changes[k], '=') != NULL) putenv(env_changes[k]);
      else unsetenv(env_changes[k]);
    }
    if (violations[1] >= 0) {
      if (violations[1] == 3) fcntl(3, F_SETFD, 0);
      else if (dup2(violations[1], 3) < 0) _exit(127);
    }
    execvp(command[0], command);
    int e = errno;
    ssize_t ignored = write(exec_error[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  } else {
    close(exec_error[1]);
    if (violations[1] >= 0) close(violations[1]);
    int e = 0;
    ssize_t got;
    do got = read(exec_error[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    close(exec_error[0]);
    if (got == (ssize_t)sizeof e) {
      waitpid(pid, NULL, 0);
      fprintf(stderr, "leash: cannot run %s: %s (%s)\n", command[0], strerror(e), errno_name(e));
      status = 127;
      pid = -1;
    }
  }

  if (pid > 0) {
    waited_pid = pid;
    struct sigaction act = {0};
    act.sa_handler = forward_signal;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    for (size_t k = 0; k < FORWARDED_COUNT; k++) sigaction(forwarded_signals[k], &act, NULL);
    act.sa_handler = note_child;
    act.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &act, NULL);
    sigprocmask(SIG_UNBLOCK, &forwarded, NULL);

    int pipe_fd = violations[0];
    int ended = 0, lock_busy = 0;
    long drain_until = 0;
    for (;;) {
      if (!ended) {
        child_changed = 0;
        /* Reaped with forwarding held back, so that no signal goes to a reused pid. */
        sigprocmask(SIG_BLOCK, &forwarded, NULL);
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
          waited_pid = 0;
          ended = 1;
          status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          drain_until = now_ms() + WAIT_DRAIN_MS;
        }
        sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
      }
      if (pipe_fd >= 0 && s.len > 0) lock_busy = spool_flush(&s, 0);
      if (ended && (pipe_fd < 0 || now_ms() >= drain_until)) break;

      struct pollfd fds[1];
      nfds_t nfds = 0;
      int reading = pipe_fd >= 0 && s.len + 1 < s.cap;
      if (reading) {
        fds[0].fd = pipe_fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        nfds = 1;
      }
      long wait_ms = -1;
      if (lock_busy) wait_ms = 20;
      if (ended) {
        long left = drain_until - now_ms();
        if (wait_ms < 0 || left < wait_ms) wait_ms = left < 0 ? 0 : left;
      }
      struct timespec timeout = {.tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000};
      int ready = ppoll(fds, nfds, wait_ms < 0 ? NULL : &timeout, &none);
      if (ready < 0) {
        if (errno == EINTR) continue;
        die("ppoll");
      }
      if (reading && ready > 0 && fds[0].revents != 0) {
        ssize_t n = read(pipe_fd, s.buf + s.len, s.cap - 1 - s.len);
        if (n > 0) spool_took(&s, (size_t)n);
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          close(pipe_fd);
          pipe_fd = -1;
        }
      }
    }
    if (pipe_fd >= 0) close(pipe_fd);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
  }

  /* What is left, a last line without its newline too (the merge reports it if it is cut). */
  if (s.path != NULL && s.len > 0) {
    long give_up = now_ms() + WAIT_LOCK_GIVE_UP_MS;
    while (spool_flush(&s, 1) && now_ms() < give_up) {
      struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
      nanosleep(&pause, NULL);
    }
    if (s.len > 0)
      fprintf(stderr, "leash: the policy lock %s stayed busy; %zu bytes of violations are lost\n",
              s.lock_path, s.len);
  }

  struct stat st;
  int spooled = s.path != NULL && stat(s.path, &st) == 0 && st.st_size > 0;
  if (after_count > 0 && (always || spooled)) {
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    after[after_count] = code;
    after[after_count + 1] = NULL;
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execv(after[0], after);
    fprintf(stderr, "leash: cannot run %s: %s\n", after[0], strerror(errno));
  }
  return status;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--wait") == 0) return wait_main(argc - 2, argv + 2);
  if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
    printf("{\"landlock\":%d,\"seccomp\":%s}\n", landlock_abi(), seccomp_supported() ? "true" : "false");
    return 0;
  }
  int bind_any = 0, connect_any = 0, udp = 0, unix_sockets = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "-B") == 0) bind_any = 1;
    else if (strcmp(a, "-C") == 0) connect_any = 1;
    else if (strcmp(a, "-u") == 0) udp = 1;
    else if (strcmp(a, "-U") == 0) unix_sockets = 1;
    else if (i + 1 < argc && strcmp(a, "-r") == 0) add_path(argv[++i], READ_RIGHTS);
    else if (i + 1 < argc && strcmp(a, "-w") == 0) add_path(argv[++i], WRITE_RIGHTS);
    else if (i + 1 < argc && strcmp(a, "-x") == 0) add_path(argv[++i], EXEC_RIGHTS);
    else if (i + 1 < argc && strcmp(a, "-b") == 0) {
      if (bind_count < MAX_RULES) bind_ports[bind_count++] = parse_port(argv[++i]);
    } else if (i + 1 < argc && strcmp(a, "-c") == 0) {
      if (connect_count < MAX_RULES) connect_ports[connect_count++] = parse_port(argv[++i]);
    } else usage();
  }
  if (argc - i < 2) usage();
  const char *file = argv[i];
  char **child_argv = &argv[i + 1];

  int abi = landlock_abi();
  if (abi < 1) {
    fprintf(stderr, "%s: this kernel has no Landlock\n", self);
    return 125;
  }
  if (!seccomp_supported()) {
    fprintf(stderr, "%s: this kernel has no seccomp filters\n", self);
    return 125;
  }
  /* Required for an unprivileged seccomp filter and Landlock domain, and keeps setuid programs
   * from regaining what the domain takes away. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  apply_landlock(abi, bind_any, connect_any);
  build_filter(udp, unix_sockets);
  struct sock_fprog prog = {.len = filter_len, .filter = filter};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) die("seccomp");
  execv(file, child_argv);
  die(file);
  return 126;
}
