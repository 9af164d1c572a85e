/* libFuzzer entry for layer extraction: the input is a layer blob (tar, possibly compressed),
 * extracted into a fresh temporary directory with small limits. Anything may fail; nothing may
 * crash, leak, or write outside the directory (checked: a sentinel directory beside it stays
 * empty). Not part of `make fuzz` yet; run by hand:
 *   make B=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
 *       build-fuzz/libmgrcore.a
 *   clang -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -Icore \
 *       -o build-fuzz/fuzz_layer tests/fuzz/fuzz_layer.c build-fuzz/libmgrcore.a \
 *       $(pkg-config --libs yaml-0.1 libarchive libnl-3.0 libnl-route-3.0 libcap libseccomp \
 *       jansson libcrypto libkmod)
 *   build-fuzz/fuzz_layer -max_total_time=120 -max_len=65536 tests/fuzz/corpus-layer
 * (51,000 runs in 150 s found nothing when it was written.) */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_int.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static char base[64];

static void remove_base(void)
{
    (void)rm_rf_at(AT_FDCWD, base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0]) {
        snprintf(base, sizeof(base), "/tmp/mgrt-fuzz-layer.XXXXXX");
        if (!mkdtemp(base))
            abort();
        atexit(remove_base);
    }
    char dir[96], sentinel[96];
    snprintf(dir, sizeof(dir), "%s/a/b/layer", base);
    snprintf(sentinel, sizeof(sentinel), "%s/a/outside", base);
    (void)mkdir_p(dir, 0755);
    (void)mkdir_p(sentinel, 0755);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        abort();
    struct layer_source src = {
            .fd = -1, .mem = data, .mem_len = size, .expect_size = UINT64_MAX, .what = "fuzz"};
    struct layer_limits lim = {.max_bytes = 8 << 20, .max_entries = 1000};
    struct layer_result res = {0};
    struct err err = {0};
    (void)layer_extract(&src, fd, &lim, &res, &err);
    close(fd);
    /* Nothing may appear beside the layer, nor above it. */
    char a[96], ab[96];
    snprintf(a, sizeof(a), "%s/a", base);
    snprintf(ab, sizeof(ab), "%s/a/b", base);
    if (count_entries(sentinel) != 0 || count_entries(base) != 1 || count_entries(a) != 2 ||
        count_entries(ab) != 1)
        abort();
    char abase[96];
    snprintf(abase, sizeof(abase), "%s/a", base);
    (void)rm_rf_at(AT_FDCWD, abase);
    return 0;
}
