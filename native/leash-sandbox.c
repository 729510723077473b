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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv) {
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
