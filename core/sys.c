/* Raw syscall wrappers: the only place with syscall(). See sys.h. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* Returns r, or -errno when r is -1. */
static long neg(long r)
{
    return r < 0 ? -errno : r;
}

/* Retries a restartable call on EINTR. */
#define RETRY(expr)           \
    ({                        \
        long _r;              \
        do                    \
            _r = neg(expr);   \
        while (_r == -EINTR); \
        _r;                   \
    })

int sys_clone3(struct clone_args *args, size_t size)
{
    /* No CLONE_VM and no stack: the child returns here on a copy of our stack, like fork. */
    return (int)neg(syscall(SYS_clone3, args, size));
}

int sys_clone_flags(unsigned long flags, int *ret_pidfd)
{
    /* x86_64 raw clone: (flags, newsp, parent_tid, child_tid, tls); with CLONE_PIDFD the
     * pidfd is stored through parent_tid. */
    return (int)neg(syscall(SYS_clone, flags, NULL, ret_pidfd, NULL, NULL));
}

int sys_pidfd_open(pid_t pid, unsigned int flags)
{
    return (int)RETRY(syscall(SYS_pidfd_open, pid, flags));
}

int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
    return (int)RETRY(syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

int sys_pivot_root(const char *new_root, const char *put_old)
{
    return (int)neg(syscall(SYS_pivot_root, new_root, put_old));
}

int sys_fsopen(const char *fsname, unsigned int flags)
{
    return (int)RETRY(syscall(SYS_fsopen, fsname, flags));
}

int sys_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{
    return (int)RETRY(syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

int sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
    return (int)RETRY(syscall(SYS_fsmount, fd, flags, attr_flags));
}

int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned int flags)
{
    return (int)RETRY(syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}

int sys_open_tree(int dfd, const char *path, unsigned int flags)
{
    return (int)RETRY(syscall(SYS_open_tree, dfd, path, flags));
}

int sys_mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *attr)
{
    return (int)RETRY(syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr)));
}

int sys_openat2(int dfd, const char *path, struct open_how *how)
{
    return (int)RETRY(syscall(SYS_openat2, dfd, path, how, sizeof(*how)));
}

int sys_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)neg(syscall(SYS_close_range, first, last, flags));
}

int sys_setns(int fd, int nstype)
{
    return (int)RETRY(syscall(SYS_setns, fd, nstype));
}

int sys_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
    return (int)RETRY(syscall(SYS_bpf, cmd, attr, size));
}

int sys_netns_new(void)
{
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0)
        return -errno;
    if (unshare(CLONE_NEWNET) < 0) {
        int e = -errno;
        close(own);
        return e;
    }
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int e = fd < 0 ? -errno : 0;
    sys_netns_return(own);
    close(own);
    return fd < 0 ? e : fd;
}

void sys_netns_return(int own)
{
    if (own >= 0 && sys_setns(own, CLONE_NEWNET) < 0) {
        static const char msg[] = "mgr: cannot return to own network namespace\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        abort();
    }
}
