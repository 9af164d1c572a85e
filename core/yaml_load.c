/* libyaml's event API into a bounded node tree. We never use libyaml's document API: it
 * expands nothing but keeps no bounds either, and we must stop early on hostile input
 * (libyaml 0.2.5 needs seconds for 50k levels of flow nesting), so depth, node count and
 * scalar length are checked on every event. */
#include "yaml_load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "unit_parse.h"
#include "util.h"

#define MAP_KEYS_MAX 1024 /* keys per mapping: keeps the duplicate check bounded */

static void yaml_parser_freep(yaml_parser_t *p)
{
    yaml_parser_delete(p);
}
#define _cleanup_yaml_parser_ _cleanup_(yaml_parser_freep)

struct ynode *ynode_free(struct ynode *n)
{
    if (!n)
        return NULL;
    /* Iterative would be nicer, but depth is bounded by UNIT_DEPTH_MAX. */
    for (size_t i = 0; i < n->n_items; i++)
        ynode_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
    return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
    if (!n)
        return true;
    if (n->type != YN_SCALAR || !n->plain)
        return false;
    return n->len == 0 || STREQ(n->str, "~") || STREQ(n->str, "null") || STREQ(n->str, "Null") ||
           STREQ(n->str, "NULL");
}

struct frame {
    struct ynode *node;
    size_t n_items; /* items stored so far (for maps, keys and values both count) */
    size_t cap;
    bool flow; /* [..] or {..} rather than a block collection */
    size_t start_index; /* byte offset of its first character */
};

/* YAML requires the continuation lines of a multi-line flow collection or quoted/plain scalar
 * to be indented more than the block mapping it sits in; libyaml 0.2.5 does not check this
 * (yaml-test-suite 9C9N, QB6E). We check the unambiguous case, a top-level block collection
 * (column 1): every continuation line between start and end must start with a space. Lines
 * that are empty, comments or only close the collection are tolerated. Returns the 1-based
 * line of the first offender, or 0. */
static int unindented_continuation(const char *buf, size_t start, size_t end, int start_line)
{
    int line = start_line;
    for (size_t i = start; i < end; i++) {
        if (buf[i] != '\n')
            continue;
        line++;
        if (i + 1 >= end)
            break;
        char c = buf[i + 1];
        if (c != ' ' && c != '\n' && c != '\r' && c != ']' && c != '}' && c != '#')
            return line;
    }
    return 0;
}

/* Column of the innermost enclosing block collection among stack[0..top), or 0 if none. */
static int block_parent_col(const struct frame *stack, int top)
{
    for (int i = top - 1; i >= 0; i--)
        if (!stack[i].flow)
            return stack[i].node->col;
    return 0;
}

static int frame_push_item(struct frame *f, struct ynode *child)
{
    if (f->n_items + 1 > f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        struct ynode **ni = realloc(f->node->items, ncap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        f->node->items = ni;
        f->cap = ncap;
    }
    f->node->items[f->n_items++] = child;
    f->node->n_items = f->n_items;
    if (f->node->type == YN_SEQ)
        f->node->n = f->n_items;
    else
        f->node->n = f->n_items / 2;
    return 0;
}

static void mark_pos(const char *buf, size_t len, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void report_libyaml_error(const char *path, const char *buf, size_t len,
        const yaml_parser_t *p, struct diags *d)
{
    int line, col;
    size_t index;
    if (p->error == YAML_READER_ERROR) {
        index = p->problem_offset;
        mark_pos(buf, len, index, &line, &col);
    } else {
        index = p->problem_mark.index;
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        diags_add(d, path, 0, 0, "out of memory while parsing YAML");
        return;
    }
    if (index < len && buf[index] == '\t') {
        diags_add(d, path, line, col, "tab character where YAML allows only spaces (indent with spaces)");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        if (index < len && ((unsigned char)buf[index] >= 0x80))
            diags_add(d, path, line, col, "invalid UTF-8 (%s, byte 0x%02x)", p->problem,
                    (unsigned char)buf[index]);
        else
            diags_add(d, path, line, col, "invalid character (%s)", p->problem);
        return;
    }
    if (p->context)
        diags_add(d, path, line, col, "invalid YAML: %s %s", p->problem, p->context);
    else
        diags_add(d, path, line, col, "invalid YAML: %s", p->problem ? p->problem : "syntax error");
}

/* True if a '#' follows a closing quote or bracket directly (libyaml takes it as a comment). */
static bool comment_glued(const char *buf, size_t len, size_t idx, const char *closers)
{
    return idx > 0 && idx < len && buf[idx] == '#' && strchr(closers, buf[idx - 1]);
}

/* Tags other than the plain core ones change meaning in ways we do not want to guess. */
static int check_tag(const char *path, const yaml_char_t *tag, int line, int col, bool *is_str,
        struct diags *d)
{
    *is_str = false;
    if (!tag)
        return 0;
    const char *t = (const char *)tag;
    if (STREQ(t, YAML_STR_TAG)) {
        *is_str = true;
        return 0;
    }
    if (STREQ(t, YAML_MAP_TAG) || STREQ(t, YAML_SEQ_TAG) || STREQ(t, "!"))
        return 0;
    diags_add(d, path, line, col, "YAML tag '%.64s' is not supported", t);
    return -EINVAL;
}

int yaml_load(const char *path, const char *buf, size_t len, struct ynode **ret, struct diags *d)
{
    _cleanup_yaml_parser_ yaml_parser_t parser;
    struct frame stack[UNIT_DEPTH_MAX + 1];
    int depth = 0; /* frames in use */
    struct ynode *root = NULL;
    size_t nodes = 0;
    int docs = 0;
    int r = 0;
    bool errors = false;

    if (len > UNIT_FILE_MAX) {
        diags_add(d, path, 0, 0, "file too large (%zu bytes, at most %d)", len, UNIT_FILE_MAX);
        memset(&parser, 0, sizeof(parser));
        return -EINVAL;
    }
    /* YAML forbids tabs in indentation; libyaml misses some cases (DK95/01, Y79Y/003), and
     * a unit file never needs a tab at the start of a line, so refuse them all up front. */
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\t' && (i == 0 || buf[i - 1] == '\n')) {
            int tl, tc;
            mark_pos(buf, len, i, &tl, &tc);
            diags_add(d, path, tl, tc,
                    "tab character where YAML allows only spaces (indent with spaces)");
            memset(&parser, 0, sizeof(parser));
            return -EINVAL;
        }
    }
    if (!yaml_parser_initialize(&parser)) {
        memset(&parser, 0, sizeof(parser));
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            report_libyaml_error(path, buf, len, &parser, d);
            r = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
            goto fail;
        }
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        struct ynode *n = NULL;
        bool done = false, is_str = false;

        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (ev.data.document_start.version_directive ||
                    ev.data.document_start.tag_directives.start !=
                            ev.data.document_start.tag_directives.end) {
                diags_add(d, path, line, col, "YAML directives (%%YAML, %%TAG) are not supported");
                r = -EINVAL;
            } else if (++docs > 1) {
                diags_add(d, path, line, col, "only one YAML document per unit file");
                r = -EINVAL;
            }
            break;
        case YAML_ALIAS_EVENT:
            diags_add(d, path, line, col, "YAML aliases are not supported (write the value out)");
            r = -EINVAL;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *anchor = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.anchor
                                        : ev.type == YAML_SEQUENCE_START_EVENT
                                                ? ev.data.sequence_start.anchor
                                                : ev.data.mapping_start.anchor;
            const yaml_char_t *tag = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.tag
                                     : ev.type == YAML_SEQUENCE_START_EVENT
                                             ? ev.data.sequence_start.tag
                                             : ev.data.mapping_start.tag;
            if (anchor) {
                diags_add(d, path, line, col,
                        "YAML anchors are not supported (anchor '%.64s')", (const char *)anchor);
                r = -EINVAL;
                break;
            }
            if (check_tag(path, tag, line, col, &is_str, d) < 0)
                errors = true;
            if (++nodes > UNIT_NODES_MAX) {
                diags_add(d, path, line, col, "too many YAML nodes (at most %d)", UNIT_NODES_MAX);
                r = -EINVAL;
                break;
            }
            if (ev.type != YAML_SCALAR_EVENT && depth >= UNIT_DEPTH_MAX) {
                diags_add(d, path, line, col, "nesting too deep (at most %d levels)",
                        UNIT_DEPTH_MAX);
                r = -EINVAL;
                break;
            }
            if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length > UNIT_SCALAR_MAX) {
                diags_add(d, path, line, col, "scalar too long (%zu bytes, at most %d)",
                        ev.data.scalar.length, UNIT_SCALAR_MAX);
                r = -EINVAL;
                break;
            }
            n = calloc(1, sizeof(*n));
            if (!n) {
                r = -ENOMEM;
                break;
            }
            n->line = line;
            n->col = col;
            if (ev.type == YAML_SCALAR_EVENT) {
                n->type = YN_SCALAR;
                n->len = ev.data.scalar.length;
                n->str = malloc(n->len + 1);
                if (!n->str) {
                    free(n);
                    r = -ENOMEM;
                    break;
                }
                memcpy(n->str, ev.data.scalar.value, n->len);
                n->str[n->len] = '\0';
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str &&
                           !(tag && !ev.data.scalar.plain_implicit);
                /* libyaml 0.2.5 accepts these; YAML 1.2 does not (yaml-test-suite G5U8,
                 * YJV2, SU5Z). */
                if (n->plain && STREQ(n->str, "-")) {
                    diags_add(d, path, line, col, "invalid YAML: '-' alone is not a value "
                                                  "(quote it: \"-\")");
                    errors = true;
                }
                if (!n->plain && ev.data.scalar.style != YAML_LITERAL_SCALAR_STYLE &&
                        ev.data.scalar.style != YAML_FOLDED_SCALAR_STYLE &&
                        comment_glued(buf, len, ev.end_mark.index, "\"'")) {
                    diags_add(d, path, (int)ev.end_mark.line + 1, (int)ev.end_mark.column + 1,
                            "invalid YAML: a comment needs a space before '#'");
                    errors = true;
                }
                bool block_scalar = ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                                    ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
                if (!block_scalar && ev.end_mark.line > ev.start_mark.line &&
                        block_parent_col(stack, depth) == 1) {
                    int bad = unindented_continuation(buf, ev.start_mark.index,
                            ev.end_mark.index, line);
                    if (bad) {
                        diags_add(d, path, bad, 1, "continuation line must be indented (YAML "
                                                   "requires more indentation than its key)");
                        errors = true;
                    }
                }
                if (block_scalar) {
                    /* "|# x" or ">2#": libyaml takes the glued '#' as a comment (X4QW). */
                    size_t j = ev.start_mark.index;
                    if (j < len && (buf[j] == '|' || buf[j] == '>')) {
                        j++;
                        while (j < len && strchr("0123456789+-", buf[j]) && buf[j])
                            j++;
                        if (j < len && buf[j] == '#') {
                            diags_add(d, path, line, col,
                                    "invalid YAML: a comment needs a space before '#'");
                            errors = true;
                        }
                    }
                }
                if (memchr(n->str, '\0', n->len)) {
                    diags_add(d, path, line, col, "NUL character in a string");
                    errors = true;
                }
            } else {
                n->type = ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP;
            }
            /* Attach to the parent. */
            if (depth == 0) {
                if (root) {
                    ynode_free(n);
                    diags_add(d, path, line, col, "only one YAML document per unit file");
                    r = -EINVAL;
                    break;
                }
                root = n;
            } else {
                struct frame *f = &stack[depth - 1];
                bool is_key = f->node->type == YN_MAP && f->n_items % 2 == 0;
                if (is_key) {
                    if (n->type != YN_SCALAR) {
                        diags_add(d, path, line, col, "mapping keys must be plain strings");
                        errors = true;
                    } else if (f->node->n >= MAP_KEYS_MAX) {
                        diags_add(d, path, line, col, "too many keys in one mapping (at most %d)",
                                MAP_KEYS_MAX);
                        ynode_free(n);
                        r = -EINVAL;
                        break;
                    } else {
                        for (size_t i = 0; i < f->n_items; i += 2) {
                            struct ynode *k = f->node->items[i];
                            if (k->type == YN_SCALAR && k->len == n->len &&
                                    memcmp(k->str, n->str, n->len) == 0) {
                                diags_add(d, path, line, col,
                                        "duplicate key '%.64s' (first at line %d, column %d)",
                                        n->str, k->line, k->col);
                                errors = true;
                                break;
                            }
                        }
                    }
                }
                int rr = frame_push_item(f, n);
                if (rr < 0) {
                    ynode_free(n);
                    r = rr;
                    break;
                }
            }
            if (n->type != YN_SCALAR)
                stack[depth++] = (struct frame){.node = n, .start_index = ev.start_mark.index,
                        .flow = ev.type == YAML_SEQUENCE_START_EVENT
                                        ? ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                                        : ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE};
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0 && stack[depth - 1].flow &&
                    block_parent_col(stack, depth - 1) == 1) {
                int bad = unindented_continuation(buf, stack[depth - 1].start_index,
                        ev.end_mark.index, stack[depth - 1].node->line);
                if (bad) {
                    diags_add(d, path, bad, 1, "continuation line must be indented (YAML "
                                               "requires more indentation than its key)");
                    r = -EINVAL;
                }
            }
            if (depth > 0)
                depth--;
            if (comment_glued(buf, len, ev.end_mark.index, "]}")) {
                diags_add(d, path, (int)ev.end_mark.line + 1, (int)ev.end_mark.column + 1,
                        "invalid YAML: a comment needs a space before '#'");
                r = -EINVAL;
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (r < 0)
            goto fail;
        if (done)
            break;
    }
    if (errors) {
        r = -EINVAL;
        goto fail;
    }
    *ret = root;
    return 0;
fail:
    ynode_free(root);
    return r;
}
