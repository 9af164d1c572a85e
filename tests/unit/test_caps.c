/* Capability names, masks and the final set computation (pure; no root needed). */
#include <errno.h>
#include <stdlib.h>
#include <sys/capability.h>

#include "harness.h"
#include "caps.h"
#include "err.h"

static int test_names(void)
{
    char buf[64];

    CHECK_INT(caps_from_name("NET_BIND_SERVICE"), CAP_NET_BIND_SERVICE);
    CHECK_INT(caps_from_name("net_bind_service"), CAP_NET_BIND_SERVICE);
    CHECK_INT(caps_from_name("CAP_NET_BIND_SERVICE"), CAP_NET_BIND_SERVICE);
    CHECK_INT(caps_from_name("cap_Sys_Admin"), CAP_SYS_ADMIN);
    CHECK_INT(caps_from_name("chown"), CAP_CHOWN);
    CHECK_INT(caps_from_name("all"), CAPS_ALL);
    CHECK_INT(caps_from_name("CAP_ALL"), CAPS_ALL);
    CHECK_INT(caps_from_name("NET_BIND"), -EINVAL);
    CHECK_INT(caps_from_name(""), -EINVAL);
    CHECK_INT(caps_from_name("CAP_"), -EINVAL);
    CHECK_INT(caps_from_name("12"), -EINVAL);
    CHECK_INT(caps_from_name("sys admin"), -EINVAL);
    CHECK_INT(caps_from_name("../x"), -EINVAL);
    CHECK_INT(caps_from_name(NULL), -EINVAL);
    CHECK_STR(caps_to_name(CAP_NET_BIND_SERVICE, buf, sizeof(buf)), "NET_BIND_SERVICE");
    CHECK_STR(caps_to_name(CAP_SYS_CHROOT, buf, sizeof(buf)), "SYS_CHROOT");
    CHECK(caps_to_name(-1, buf, sizeof(buf)) == NULL);
    /* Round trip of every capability the kernel headers know. */
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        CHECK(caps_to_name(c, buf, sizeof(buf)) != NULL);
        CHECK_INT(caps_from_name(buf), c);
    }
    return 0;
}

static int test_default_mask(void)
{
    char buf[32];

    /* The OCI/podman default, as /proc/PID/status prints it (podman run alpine grep CapEff). */
    CHECK_STR(caps_format_mask(caps_default_mask(), buf, sizeof(buf)), "00000000800405fb");
    CHECK(caps_all_mask() & (UINT64_C(1) << CAP_SYS_ADMIN));
    return 0;
}

static int test_compute(void)
{
    struct err e = {0};
    uint64_t m;
    char *drop_all[] = {"ALL", NULL};
    char *add_nbs[] = {"NET_BIND_SERVICE", NULL};
    char *add_admin[] = {"sys_admin", "CAP_NET_RAW", NULL};
    char *drop_some[] = {"chown", "KILL", NULL};
    char *bad[] = {"CHOWN", "FLY", NULL};

    CHECK_INT(caps_compute(NULL, NULL, &m, &e), 0);
    CHECK_INT(m, caps_default_mask());
    CHECK_INT(caps_compute(NULL, drop_all, &m, &e), 0);
    CHECK_INT(m, 0);
    CHECK_INT(caps_compute(add_nbs, drop_all, &m, &e), 0);
    CHECK_INT(m, UINT64_C(1) << CAP_NET_BIND_SERVICE);
    CHECK_INT(caps_compute(add_admin, NULL, &m, &e), 0);
    CHECK_INT(m, caps_default_mask() | (UINT64_C(1) << CAP_SYS_ADMIN) |
                    (UINT64_C(1) << CAP_NET_RAW));
    CHECK_INT(caps_compute(NULL, drop_some, &m, &e), 0);
    CHECK_INT(m, caps_default_mask() & ~((UINT64_C(1) << CAP_CHOWN) | (UINT64_C(1) << CAP_KILL)));
    CHECK_INT(caps_compute(drop_all, NULL, &m, &e), 0);
    CHECK_INT(m, caps_all_mask());
    m = 42;
    CHECK_INT(caps_compute(bad, NULL, &m, &e), -EINVAL);
    CHECK_INT(m, 42);
    CHECK(strstr(e.msg, "capabilities.add: unknown capability 'FLY'") != NULL);
    CHECK_INT(caps_compute(NULL, bad, &m, &e), -EINVAL);
    CHECK(strstr(e.msg, "capabilities.drop") != NULL);
    return 0;
}

static int test_own_bounding(void)
{
    char line[256];
    unsigned long long bnd = 0;
    FILE *f = fopen("/proc/self/status", "r");

    CHECK(f != NULL);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapBnd: %llx", &bnd) == 1)
            break;
    fclose(f);
    CHECK_INT(caps_own_bounding(), bnd);
    /* and the same as asking the kernel capability by capability */
    uint64_t m = 0;
    for (int i = 0; i <= CAP_LAST_CAP; i++)
        if (cap_get_bound((cap_value_t)i) == 1)
            m |= UINT64_C(1) << i;
    CHECK_INT(caps_own_bounding(), m);
    return 0;
}

int main(void)
{
    RUN(test_names);
    RUN(test_default_mask);
    RUN(test_compute);
    RUN(test_own_bounding);
    return HARNESS_END();
}
