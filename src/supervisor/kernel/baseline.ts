/**
 * @module
 * What a Node process needs from the file system before it runs a line of the service, on top of
 * what the policy grants: kept short on purpose (docs/kernel.md lists it with the reasons). A path
 * missing on this machine is skipped. Nothing here is writable except the null device, and no
 * directory holding secrets is readable (`/etc` is listed file by file).
 */
export interface Baseline {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

export const LINUX_BASELINE: Baseline = {
  read: [
    // Shared libraries and the dynamic loader's cache.
    '/lib',
    '/lib64',
    '/usr/lib',
    '/usr/lib64',
    '/etc/ld.so.cache',
    '/etc/ld.so.preload',
    // TLS: OpenSSL's configuration (Node refuses to start when it exists but cannot be read)
    // and the system's certificates.
    '/etc/ssl',
    '/etc/pki',
    '/etc/ca-certificates',
    '/usr/share/ca-certificates',
    // Name resolution and time zones. Not /etc/passwd: reading it is the classic traversal, and a
    // service that needs os.userInfo() without $HOME names it in its policy.
    '/etc/hosts',
    '/etc/resolv.conf',
    '/etc/nsswitch.conf',
    '/etc/host.conf',
    '/etc/gai.conf',
    '/etc/services',
    '/etc/protocols',
    '/etc/localtime',
    '/usr/share/zoneinfo',
    // The process's own /proc entries and what libuv reads for CPU and memory limits.
    '/proc/self',
    '/proc/thread-self',
    '/proc/stat',
    '/proc/meminfo',
    '/proc/cpuinfo',
    '/sys/fs/cgroup',
    '/sys/devices/system/cpu',
    // Devices every runtime opens.
    '/dev/null',
    '/dev/zero',
    '/dev/random',
    '/dev/urandom',
  ],
  write: ['/dev/null'],
};
