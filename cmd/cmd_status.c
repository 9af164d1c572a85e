/* mgr status [NAME] [--json]: the containers and their state, from the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "../core/log.h"
#include "../core/util.h"

static void status_usage(FILE *f)
{
    fprintf(f, "Usage: mgr status [NAME] [--json]\n\n"
               "Without NAME, one line per unit: name, state, health, pid, uptime, restarts,\n"
               "last exit reason (OOM kills included), memory, CPU time, addresses, image.\n"
               "With NAME, details and the history of its deaths with their last log lines.\n\n"
               "Options:\n"
               "  --json      print the daemon's JSON\n"
               "  -h, --help  show this help\n\n"
               "Exit status: 0 ok, 1 no such unit, 3 no daemon.\n");
}

static const char *jstr(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

static void fmt_uptime(uint64_t ms, char *buf, size_t len)
{
    uint64_t s = ms / 1000;
    if (ms == 0)
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%llum%02llus", (unsigned long long)s / 60, (unsigned long long)s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lluh%02llum", (unsigned long long)s / 3600,
                (unsigned long long)(s % 3600) / 60);
    else
        snprintf(buf, len, "%llud%02lluh", (unsigned long long)s / 86400,
                (unsigned long long)(s % 86400) / 3600);
}

static void fmt_mem(json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v)) {
        snprintf(buf, len, "-");
        return;
    }
    double b = (double)json_integer_value(v);
    const char *u[] = {"B", "K", "M", "G"};
    int i = 0;
    while (b >= 1024 && i < 3)
        b /= 1024, i++;
    snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

static void addresses(json_t *o, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *a;
    buf[0] = 0;
    json_array_foreach(json_object_get(o, "addresses"), i, a)
        off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", i ? "," : "",
                json_string_value(a));
    if (!buf[0])
        snprintf(buf, len, "-");
}

static void print_table(json_t *units)
{
    printf("%-20s %-9s %-9s %-8s %-8s %-8s %-28s %-8s %-8s %-16s %s\n", "NAME", "STATE",
            "HEALTH", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "MEMORY", "CPU", "ADDRESSES",
            "IMAGE");
    size_t i;
    json_t *o;
    json_array_foreach(units, i, o) {
        char up[32], mem[32], cpu[32], addr[128], pid[16];
        bool net = strcmp(jstr(o, "kind", ""), "network") == 0;
        fmt_uptime((uint64_t)json_integer_value(json_object_get(o, "uptime_ms")), up, sizeof(up));
        fmt_mem(json_object_get(o, "memory"), mem, sizeof(mem));
        json_t *c = json_object_get(o, "cpu_ns");
        if (json_is_integer(c))
            snprintf(cpu, sizeof(cpu), "%.2fs", (double)json_integer_value(c) / 1e9);
        else
            snprintf(cpu, sizeof(cpu), "-");
        addresses(o, addr, sizeof(addr));
        json_int_t p = json_integer_value(json_object_get(o, "pid"));
        if (p > 0)
            snprintf(pid, sizeof(pid), "%lld", (long long)p);
        else
            snprintf(pid, sizeof(pid), "-");
        const char *health = jstr(o, "health", "none");
        if (net) {
            printf("%-20s %-9s %-9s %-8s %-8s %-8s %-28s %-8s %-8s %-16s %s\n",
                    jstr(o, "name", "?"), jstr(o, "state", "?"), "-", "-", "-", "-", "-", "-",
                    "-", "-", "(network)");
            continue;
        }
        printf("%-20s %-9s %-9s %-8s %-8s %-8lld %-28s %-8s %-8s %-16s %s\n",
                jstr(o, "name", "?"), jstr(o, "state", "?"),
                strcmp(health, "none") ? health : "-", pid, up,
                (long long)json_integer_value(json_object_get(o, "restarts")),
                jstr(json_object_get(o, "last_exit"), "reason", "-"), mem, cpu, addr,
                jstr(o, "image", "-"));
    }
}

static void print_detail(json_t *o)
{
    char up[32], mem[32], addr[128];
    fmt_uptime((uint64_t)json_integer_value(json_object_get(o, "uptime_ms")), up, sizeof(up));
    fmt_mem(json_object_get(o, "memory"), mem, sizeof(mem));
    addresses(o, addr, sizeof(addr));
    printf("%s (%s)\n", jstr(o, "name", "?"), jstr(o, "kind", "container"));
    printf("  state:      %s%s\n", jstr(o, "state", "?"),
            json_is_true(json_object_get(o, "stop_intent")) ? " (stopped by the user)" : "");
    if (strcmp(jstr(o, "kind", ""), "network") == 0)
        return;
    size_t wi;
    json_t *wv;
    json_array_foreach(json_object_get(o, "waiting_for"), wi, wv)
        printf("  waiting for: %s\n", json_string_value(wv));
    printf("  health:     %s\n", jstr(o, "health", "none"));
    printf("  pid:        %lld\n", (long long)json_integer_value(json_object_get(o, "pid")));
    printf("  uptime:     %s\n", up);
    printf("  restarts:   %lld (policy %s)\n",
            (long long)json_integer_value(json_object_get(o, "restarts")), jstr(o, "policy", "?"));
    printf("  last exit:  %s\n", jstr(json_object_get(o, "last_exit"), "reason", "-"));
    if (json_object_get(o, "error"))
        printf("  error:      %s\n", jstr(o, "error", ""));
    printf("  memory:     %s\n", mem);
    printf("  addresses:  %s\n", addr);
    printf("  image:      %s\n", jstr(o, "image", "-"));
    size_t i;
    json_t *d;
    json_t *h = json_object_get(o, "history");
    if (json_array_size(h))
        printf("\nDeaths (newest first, %lld in total):\n",
                (long long)json_integer_value(json_object_get(o, "deaths")));
    json_array_foreach(h, i, d) {
        time_t t = (time_t)(json_integer_value(json_object_get(d, "time")) / 1000);
        struct tm tm;
        char ts[64];
        localtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        printf("  %s  %s\n", ts, jstr(d, "reason", "?"));
        const char *tail = jstr(d, "tail", NULL);
        if (!tail)
            continue;
        /* The last few lines only. */
        const char *p = tail + strlen(tail);
        int lines = 0;
        while (p > tail && lines < 6)
            if (*--p == '\n' && p[1])
                lines++;
        if (*p == '\n')
            p++;
        for (const char *q = p; *q;) {
            const char *nl = strchr(q, '\n');
            size_t l = nl ? (size_t)(nl - q) : strlen(q);
            printf("      | %.*s\n", (int)l, q);
            q += l + (nl ? 1 : 0);
        }
    }
}

int cmd_status(struct mgr_ctx *ctx, int argc, char **argv)
{
    bool json;
    int stop = cmd_parse_json_help(argc, argv, "h", status_usage, 1, &json);
    if (stop >= 0)
        return stop;
    const char *name = optind < argc ? argv[optind] : NULL;
    json_t *resp = NULL;
    int rc = client_call(ctx, json_pack("{s:s,s:s?}", "cmd", "status", "name", name), &resp);
    if (rc != EXIT_OK)
        return rc;
    if (!json_is_true(json_object_get(resp, "ok"))) {
        client_print_error(resp);
        json_decref(resp);
        return EXIT_FAIL;
    }
    json_t *units = json_object_get(resp, "units");
    if (json) {
        json_dumpf(name ? json_array_get(units, 0) : units, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
    } else if (name) {
        print_detail(json_array_get(units, 0));
    } else {
        print_table(units);
    }
    json_decref(resp);
    return EXIT_OK;
}
