#pragma once
/* Internals shared by image.c (store, sources) and image_extract.c (layer extraction). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include <archive.h>
/* SHA256_Init/Update/Final rather than the EVP interface: that one pulls OpenSSL 3's provider
 * machinery (every cipher, RSA, EC...) into the static link, 4 MB of the mgr binary and 340 KiB
 * of relocated data that every mgr process, the daemon too, dirties at start. Deprecated in
 * 3.0 but present in every 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "err.h"

#define _cleanup_archive_ __attribute__((cleanup(archive_read_freep)))
static inline void archive_read_freep(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}
#define _cleanup_md_ __attribute__((cleanup(md_freep)))
static inline void md_freep(SHA256_CTX **c)
{
    if (*c)
        free(*c);
}

/* Where a layer's (possibly compressed) bytes come from: a file descriptor, an entry of an
 * outer archive being read (docker-archive), or a memory buffer. */
struct layer_source {
    int fd;                /* >= 0: read from this fd */
    struct archive *outer; /* else: archive_read_data_block of the current outer entry */
    const void *mem;       /* else: memory */
    size_t mem_len;
    uint64_t expect_size; /* compressed size to enforce; UINT64_MAX = unknown */
    const char *what;     /* name for messages ("blob sha256:...", "layer.tar") */
    /* progress */
    void (*progress)(uint64_t bytes, void *userdata);
    void *userdata;
};

/* Result of extracting one layer. */
struct layer_result {
    char blob_hex[65];  /* sha256 of the bytes read from the source */
    char diff_hex[65];  /* sha256 of the uncompressed tar stream */
    uint64_t blob_size; /* bytes read from the source */
    uint64_t tar_size;  /* uncompressed bytes */
    uint64_t entries;
    uint64_t written; /* bytes of file data written */
};

struct layer_limits {
    uint64_t max_bytes; /* uncompressed stream + declared file sizes */
    uint64_t max_entries;
};

/* Extracts the tar stream (plain, gzip, zstd, xz, ... sniffed from content) read from src into
 * the empty directory root_fd, converting OCI whiteouts to overlayfs ones, refusing anything
 * that would write outside root_fd. Hashes both streams on the way. On error the directory
 * holds partial content: the caller removes it. */
int layer_extract(struct layer_source *src, int root_fd, const struct layer_limits *lim,
                  struct layer_result *ret, struct err *err);

/* sha256 of a buffer as 64 lowercase hex chars. */
void sha256_hex(const void *data, size_t len, char ret_hex[65]);
/* Hex of a finished digest. */
void md_hex(SHA256_CTX *c, char ret_hex[65]);
