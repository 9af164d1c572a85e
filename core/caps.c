/* Capabilities through libcap. Decisions (name parsing, the final mask) are pure; the apply
 * step runs in the container's init between pivot_root and execve. */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "err.h"

int caps_from_name(const char *name)
{
    char buf[64];
    size_t n;
    cap_value_t v;

    if (!name)
        return -EINVAL;
    if (strncasecmp(name, "CAP_", 4) == 0)
        name += 4;
    n = strlen(name);
    if (n == 0 || n + 5 > sizeof(buf))
        return -EINVAL;
    if (strcasecmp(name, "ALL") == 0)
        return CAPS_ALL;
    /* libcap's names are "cap_xxx" in lower case; it also accepts bare numbers, which we
     * do not want a unit to use. */
    memcpy(buf, "cap_", 4);
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c && !isalnum(c) && c != '_')
            return -EINVAL;
        buf[4 + i] = (char)tolower(c);
    }
    if (isdigit((unsigned char)name[0]))
        return -EINVAL;
    if (cap_from_name(buf, &v) < 0 || v < 0 || v >= 64)
        return -EINVAL;
    return (int)v;
}

char *caps_to_name(int cap, char *buf, size_t len)
{
    char *s;

    if (cap < 0 || cap >= 64 || len == 0)
        return NULL;
    s = cap_to_name((cap_value_t)cap);
    if (!s)
        return NULL;
    if (strncmp(s, "cap_", 4) != 0) { /* libcap prints unnamed caps as numbers */
        cap_free(s);
        return NULL;
    }
    snprintf(buf, len, "%s", s + 4);
    cap_free(s);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return buf;
}

uint64_t caps_default_mask(void)
{
    static const int def[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE,     CAP_FOWNER,    CAP_FSETID,
                              CAP_KILL,    CAP_NET_BIND_SERVICE, CAP_SETFCAP,   CAP_SETGID,
                              CAP_SETPCAP, CAP_SETUID,           CAP_SYS_CHROOT};
    uint64_t m = 0;

    for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
        m |= UINT64_C(1) << def[i];
    return m;
}

uint64_t caps_all_mask(void)
{
    int bits = cap_max_bits();

    if (bits <= 0 || bits > 64)
        bits = CAP_LAST_CAP + 1;
    return bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

int caps_mask_from_names(char *const *names, const char *what, uint64_t *ret, struct err *err)
{
    uint64_t m = 0;

    for (size_t i = 0; names && names[i]; i++) {
        int c = caps_from_name(names[i]);
        if (c < 0)
            return err_setx(err, EINVAL, "capabilities.%s: unknown capability '%s'", what,
                            names[i]);
        m |= c == CAPS_ALL ? caps_all_mask() : UINT64_C(1) << c;
    }
    *ret = m;
    return 0;
}

int caps_compute(char *const *add, char *const *drop, uint64_t *ret_mask, struct err *err)
{
    uint64_t a, d;
    int r;

    r = caps_mask_from_names(add, "add", &a, err);
    if (r < 0)
        return r;
    r = caps_mask_from_names(drop, "drop", &d, err);
    if (r < 0)
        return r;
    /* As podman: drop is applied to the default first, then add wins, so
     * "drop: [ALL], add: [NET_BIND_SERVICE]" leaves exactly NET_BIND_SERVICE. */
    *ret_mask = ((caps_default_mask() & ~d) | a) & caps_all_mask();
    return 0;
}

uint64_t caps_own_bounding(void)
{
    /* One read of CapBnd instead of a prctl(PR_CAPBSET_READ) per capability: this runs for
     * every container start. */
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n > 0) {
        buf[n] = 0;
        const char *p = strstr(buf, "\nCapBnd:\t");
        unsigned long long v;
        if (p && sscanf(p + 9, "%llx", &v) == 1)
            return (uint64_t)v & caps_all_mask();
    }
    uint64_t m = 0;
    int bits = cap_max_bits();

    if (bits <= 0 || bits > 64)
        bits = CAP_LAST_CAP + 1;
    for (int i = 0; i < bits; i++)
        if (cap_get_bound((cap_value_t)i) == 1)
            m |= UINT64_C(1) << i;
    return m;
}

char *caps_format_mask(uint64_t mask, char *buf, size_t len)
{
    snprintf(buf, len, "%016llx", (unsigned long long)mask);
    return buf;
}

int caps_keep_across_setuid(struct err *err)
{
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return err_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    return 0;
}

int caps_apply(uint64_t mask, uint64_t nonroot_mask, struct err *err)
{
    int bits = cap_max_bits();
    cap_t c;

    if (bits <= 0 || bits > 64)
        bits = CAP_LAST_CAP + 1;

    /* After setuid() to a non-root user the effective set is empty (keepcaps keeps only the
     * permitted set); dropping from the bounding set needs CAP_SETPCAP in effect, so first
     * raise effective to whatever is permitted. Cannot gain anything: E <= P. */
    c = cap_get_proc();
    if (!c)
        return err_set(err, errno, "cap_get_proc");
    for (int i = 0; i < bits; i++) {
        cap_flag_value_t v = CAP_CLEAR;
        cap_value_t cv = i;
        if (cap_get_flag(c, cv, CAP_PERMITTED, &v) == 0)
            (void)cap_set_flag(c, CAP_EFFECTIVE, 1, &cv, v);
    }
    if (cap_set_proc(c) < 0) {
        int e = errno;
        cap_free(c);
        return err_set(err, e, "raise effective capabilities");
    }
    cap_free(c);

    /* The bounding set limits what any later execve (setuid binaries, file caps) can gain:
     * everything outside the mask goes, for good. */
    for (int i = 0; i < bits; i++) {
        if (mask & (UINT64_C(1) << i))
            continue;
        if (cap_drop_bound((cap_value_t)i) < 0 && errno != EINVAL) {
            char name[64];
            return err_set(err, errno, "drop capability %s from the bounding set",
                           caps_to_name(i, name, sizeof(name)) ?: "?");
        }
    }

    /* Root: permitted = effective = mask, inheritable and ambient empty: root gets the
     * bounding set back at execve anyway, and an empty inheritable set is what runc/crun/
     * podman give (CVE-2022-29162: inheritable caps combine with file inheritable bits).
     * Non-root: only what the unit added, in permitted/effective/inheritable and ambient
     * (ambient must be a subset of inheritable), to survive execve of a plain binary. */
    bool ambient = geteuid() != 0;
    uint64_t set = ambient ? nonroot_mask & mask : mask;
    c = cap_init();
    if (!c)
        return err_set(err, errno, "cap_init");
    for (int i = 0; i < bits; i++) {
        cap_value_t cv = i;
        if (!(set & (UINT64_C(1) << i)))
            continue;
        (void)cap_set_flag(c, CAP_PERMITTED, 1, &cv, CAP_SET);
        (void)cap_set_flag(c, CAP_EFFECTIVE, 1, &cv, CAP_SET);
        if (ambient)
            (void)cap_set_flag(c, CAP_INHERITABLE, 1, &cv, CAP_SET);
    }
    if (cap_set_proc(c) < 0) {
        int e = errno;
        cap_free(c);
        return err_set(err, e, "set capabilities %016llx", (unsigned long long)set);
    }
    cap_free(c);

    if (cap_reset_ambient() < 0)
        return err_set(err, errno, "reset ambient capabilities");
    for (int i = 0; ambient && i < bits; i++) {
        if (!(set & (UINT64_C(1) << i)))
            continue;
        if (cap_set_ambient((cap_value_t)i, CAP_SET) < 0) {
            char name[64];
            return err_set(err, errno, "raise ambient capability %s",
                           caps_to_name(i, name, sizeof(name)) ?: "?");
        }
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return err_set(err, errno, "prctl(PR_SET_KEEPCAPS, 0)");
    return 0;
}
