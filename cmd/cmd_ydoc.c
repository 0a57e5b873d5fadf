/*
 * quire yjs content — integrates Yjs v1 updates (binary files, "-" = stdin) in order into one
 * document (lib/yjs/ydoc.h) and prints its materialised content: by default the JSON object the
 * projector stores (one member per root, types inferred), or one root rendered as a given type
 * and format.
 *
 *   quire yjs content [--root NAME [--type T] [--format F]] [--sorted] [--stats]
 *                     [--state FILE] <update>...
 *
 *   --type    auto | text | xml | map | array     (root types are not recorded in updates)
 *   --format  json (toJSON) | string (toString, raw) | delta (Y.Text toDelta)
 *   --sorted  Y.Map keys and root names in JavaScript string order, not integration order
 *   --stats   counters on stderr (structs, memory, pending)
 *   --state   also write the integrated document as one update (Y.encodeStateAsUpdate)
 *
 * Exit status: 0 success, 1 an update was refused or a root does not exist, 2 usage. Structs
 * still pending at the end (their dependencies never arrived) are reported on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire_cmd.h"
#include "ydoc.h"

#define MAX_INPUT ((size_t)1 << 30)

typedef struct ydoc_conf_s {
    char *root;
    char *type;
    char *format;
    char *state;
    bool sorted;
    bool stats;
} ydoc_conf_t;

static const quire_cfg_opt_t ydoc_opts[] = {
    {"root", QUIRE_CFG_STRING, "", 0, -1, offsetof(ydoc_conf_t, root), QUIRE_CFG_NO_ENV,
     "render only this root (default: every root as one JSON object)"},
    {"type", QUIRE_CFG_STRING, "auto", 0, -1, offsetof(ydoc_conf_t, type), QUIRE_CFG_NO_ENV,
     "with --root: auto, text, xml, map or array"},
    {"format", QUIRE_CFG_STRING, "json", 0, -1, offsetof(ydoc_conf_t, format), QUIRE_CFG_NO_ENV,
     "with --root: json (toJSON), string (toString, raw) or delta (Y.Text toDelta)"},
    {"state", QUIRE_CFG_STRING, "", 0, -1, offsetof(ydoc_conf_t, state), QUIRE_CFG_NO_ENV,
     "also write the document's state (one update) to this file"},
    {"sorted", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(ydoc_conf_t, sorted), QUIRE_CFG_NO_ENV,
     "map keys and root names in string order instead of integration order"},
    {"stats", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(ydoc_conf_t, stats), QUIRE_CFG_NO_ENV,
     "print document counters on stderr"},
};

static uint8_t *read_all(const char *path, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "quire yjs content: could not open \"%s\": %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            uint8_t *nb = cap < MAX_INPUT ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                fprintf(stderr, "quire yjs content: \"%s\" is too large\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "quire yjs content: could not read \"%s\"\n", path);
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    *ret_len = len;
    return buf;
}

static int parse_choice(const char *what, const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "quire yjs content: unknown --%s \"%s\"\n", what, v);
    return -1;
}

static int content_run(void *confp, int argc, char **argv)
{
    ydoc_conf_t *conf = confp;
    static const char *const types[] = {"auto", "text", "xml", "map", "array"};
    static const char *const formats[] = {"json", "string", "delta"};
    int type = parse_choice("type", conf->type, types, 5);
    int format = parse_choice("format", conf->format, formats, 3);
    if (type < 0 || format < 0)
        return 2;
    if (argc < 1) {
        fprintf(stderr, "quire yjs content: expected update files (or -)\n");
        return 2;
    }
    ydoc_t *d;
    quire_err_t err = ydoc_new(NULL, &d);
    if (err != QUIRE_OK) {
        fprintf(stderr, "quire yjs content: %s\n", quire_err_str(err));
        return 1;
    }
    int status = 0;
    for (int i = 0; i < argc && status == 0; i++) {
        size_t len;
        uint8_t *u = read_all(argv[i], &len);
        if (!u) {
            status = 1;
            break;
        }
        yjs_error_t e;
        err = ydoc_apply(d, u, len, 0, NULL, &e);
        if (err != QUIRE_OK) {
            fprintf(stderr, "quire yjs content: %s refused: %s (%s) at byte %zu\n", argv[i],
                    e.message[0] ? e.message : quire_err_str(err), quire_err_name(err), e.offset);
            status = 1;
        }
        free(u);
    }
    unsigned flags = conf->sorted ? YDOC_JSON_SORT_KEYS : 0;
    if (status == 0) {
        char *out;
        size_t n;
        if (conf->root[0])
            err = ydoc_render(d, conf->root, strlen(conf->root), (ydoc_type_t)type,
                              (ydoc_format_t)format, flags, &out, &n);
        else
            err = ydoc_content_json(d, flags, &out, &n);
        if (err != QUIRE_OK) {
            fprintf(stderr, "quire yjs content: %s%s%s\n",
                    err == QUIRE_ERR_NOT_FOUND ? "no root named " : "",
                    err == QUIRE_ERR_NOT_FOUND ? conf->root : quire_err_str(err), "");
            status = 1;
        } else {
            fwrite(out, 1, n, stdout);
            putchar('\n');
            free(out);
        }
    }
    if (status == 0 && conf->state[0]) {
        uint8_t *s;
        size_t n;
        err = ydoc_encode_state(d, NULL, 0, &s, &n, NULL);
        FILE *f = err == QUIRE_OK ? fopen(conf->state, "wb") : NULL;
        if (!f || fwrite(s, 1, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "quire yjs content: could not write \"%s\"\n", conf->state);
            status = 1;
        }
        if (err == QUIRE_OK)
            free(s);
    }
    size_t nm = ydoc_missing(d, NULL, 0);
    if (ydoc_has_pending(d)) {
        fprintf(stderr, "quire yjs content: pending structs or deletes remain");
        yjs_id_t ids[8];
        size_t k = ydoc_missing(d, ids, 8);
        for (size_t i = 0; i < k; i++)
            fprintf(stderr, "%s client %" PRIu64 " from clock %" PRIu64, i ? "," : "; missing",
                    ids[i].client, ids[i].clock);
        fprintf(stderr, "%s\n", nm > 8 ? ", …" : "");
    }
    if (conf->stats) {
        ydoc_stats_t st;
        ydoc_stats(d, &st);
        fprintf(stderr,
                "clients %" PRIu64 ", structs %" PRIu64 " (%" PRIu64 " deleted, %" PRIu64
                " GC), roots %" PRIu64 ", content %zu B (+%zu garbage), pending %" PRIu64
                " structs / %zu B, memory %zu B\n",
                st.clients, st.structs, st.items_deleted, st.gc_structs, st.roots, st.content_bytes,
                st.content_garbage, st.pending_structs, st.pending_bytes, st.memory);
    }
    ydoc_destroy(d);
    return status;
}

const quire_cmd_t quire_cmd_yjs_content = {
    .name = "yjs content",
    .summary = "integrate Yjs v1 updates and print the document's content",
    .synopsis = "<update|->...",
    .opts = ydoc_opts,
    .nopts = QUIRE_NOPTS(ydoc_opts),
    .conf_size = sizeof(ydoc_conf_t),
    .run = content_run,
};
