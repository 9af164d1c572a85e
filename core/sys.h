#pragma once
/* Thin wrappers for the syscalls glibc lacks or wraps badly. Every raw syscall() of mgr lives
 * in sys.c. All return the result (>= 0) or -errno; EINTR is retried where the call is
 * restartable; -ENOSYS when the kernel lacks the call. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h> /* glibc 2.36: mount API constants and struct mount_attr */
#include <sys/types.h>
#include <linux/sched.h>   /* struct clone_args, CLONE_* */
#include <linux/openat2.h> /* struct open_how, RESOLVE_* */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* clone3(): like fork() (no CLONE_VM, no new stack): returns the child pid in the parent,
 * 0 in the child, -errno on failure. */
int sys_clone3(struct clone_args *args, size_t size);
/* clone() with flags only (no CLONE_VM): fork-like fallback where clone3 is missing.
 * *ret_pidfd is filled when flags has CLONE_PIDFD. */
int sys_clone_flags(unsigned long flags, int *ret_pidfd);
int sys_pidfd_open(pid_t pid, unsigned int flags);
int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags);
int sys_pivot_root(const char *new_root, const char *put_old);
int sys_fsopen(const char *fsname, unsigned int flags);
int sys_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned int flags);
int sys_open_tree(int dfd, const char *path, unsigned int flags);
int sys_mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *attr);
int sys_openat2(int dfd, const char *path, struct open_how *how);
int sys_close_range(unsigned int first, unsigned int last, unsigned int flags);
/* setns() with a pidfd or ns fd; retried on EINTR. */
int sys_setns(int fd, int nstype);
/* A new network namespace as an fd, made by the calling thread, which stays in its own
 * (unshare, open, setns back); -errno when it cannot unshare. Aborts if it cannot go back,
 * which the capability that let it leave rules out. */
int sys_netns_new(void);
/* Back to the calling thread's own network namespace after a setns elsewhere (own: its fd,
 * -1 when it never left). Aborts if it cannot: the capability that let it leave rules that
 * out, and carrying on would make every later socket of the daemon the container's. */
void sys_netns_return(int own);
/* bpf(2) (for the cgroup v2 device program): cmd BPF_*, attr of size bytes. */
union bpf_attr;
int sys_bpf(int cmd, union bpf_attr *attr, unsigned int size);
