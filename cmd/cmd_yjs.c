/*
 * quire yjs … — operator and test tools over the Yjs engine (lib/yjs): inspect, validate, merge,
 * diff, sv and split Yjs v1 updates stored as binary files ("-" = stdin / stdout).
 *
 *   quire yjs inspect [--structs] [--json] <update>
 *   quire yjs validate <update>...
 *   quire yjs merge [--out FILE] <update>...
 *   quire yjs diff [--out FILE] <update> <state-vector>
 *   quire yjs sv [--out FILE] <update>
 *   quire yjs split --cap BYTES [--out PREFIX] <update>     → PREFIX.000, PREFIX.001, …
 *
 * Exit status: 0 success, 1 the input was refused (the engine's message on stderr), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire_cmd.h"
#include "yjs_decode.h"
#include "yjs_update.h"

/* Largest file the tools read (the engine's own default limit is lower). */
#define MAX_INPUT ((size_t)1 << 30)

typedef struct yjs_conf_s {
    char *out;
    int64_t cap;
    bool structs;
    bool json;
    bool skim;
} yjs_conf_t;

static const quire_cfg_opt_t yjs_opts[] = {
    {"out", QUIRE_CFG_STRING, "-", 0, -1, offsetof(yjs_conf_t, out), 0,
     "output file (\"-\" = stdout); for split, the prefix of the part files"},
    {"cap", QUIRE_CFG_BYTES, "1MiB", 64, INT64_MAX, offsetof(yjs_conf_t, cap), 0,
     "split: maximum size of each part"},
    {"structs", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(yjs_conf_t, structs), 0,
     "inspect: list every struct and delete range"},
    {"json", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(yjs_conf_t, json), 0,
     "inspect: print a JSON summary"},
    {"skim", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(yjs_conf_t, skim), 0,
     "skip UTF-8 and JSON validation (for updates validated before)"},
};

static int read_input(const char *path, uint8_t **ret, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "quire yjs: could not open \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            if (cap >= MAX_INPUT) {
                fprintf(stderr, "quire yjs: \"%s\" is larger than 1 GiB\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
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
    bool bad = !buf || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        if (buf)
            fprintf(stderr, "quire yjs: could not read \"%s\"\n", path);
        free(buf);
        return -1;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

static int write_output(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "quire yjs: could not create \"%s\": %s\n", path, strerror(errno));
        return 1;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok) {
        fprintf(stderr, "quire yjs: could not write \"%s\"\n", path);
        return 1;
    }
    return 0;
}

static int refused(const char *what, const char *path, quire_err_t err, const yjs_error_t *e)
{
    fprintf(stderr, "quire yjs %s: %s refused: %s (%s) at byte %zu\n", what, path,
            e->message[0] ? e->message : quire_err_str(err), quire_err_name(err), e->offset);
    return 1;
}

static unsigned flags_of(const yjs_conf_t *conf)
{
    return conf->skim ? YJS_DECODE_SKIM : 0;
}

/* ---- inspect ---------------------------------------------------------------------------- */

static void print_text(const yjs_span_t *s, size_t max)
{
    putchar('"');
    for (size_t i = 0; i < s->len && i < max; i++) {
        uint8_t c = s->ptr[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    if (s->len > max)
        printf("…(%zu bytes)", s->len);
}

static const char *const type_names[] = {"array",       "map",     "text",   "xmlelement",
                                         "xmlfragment", "xmlhook", "xmltext"};

static void print_struct(const yjs_struct_t *s)
{
    printf("  (%" PRIu64 ",%" PRIu64 ")+%" PRIu64 " ", s->id.client, s->id.clock, s->len);
    if (s->kind == YJS_KIND_GC) {
        printf("gc\n");
        return;
    }
    if (s->kind == YJS_KIND_SKIP) {
        printf("skip\n");
        return;
    }
    printf("item");
    if (s->info & YJS_INFO_ORIGIN)
        printf(" origin=(%" PRIu64 ",%" PRIu64 ")", s->origin.client, s->origin.clock);
    if (s->info & YJS_INFO_RIGHT_ORIGIN)
        printf(" right=(%" PRIu64 ",%" PRIu64 ")", s->right_origin.client, s->right_origin.clock);
    if (!(s->info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
        if (s->parent_is_root) {
            printf(" parent=root:");
            print_text(&s->parent_key, 40);
        } else {
            printf(" parent=(%" PRIu64 ",%" PRIu64 ")", s->parent_id.client, s->parent_id.clock);
        }
        if (s->info & YJS_INFO_PARENT_SUB) {
            printf(" key=");
            print_text(&s->parent_sub, 40);
        }
    }
    const yjs_content_t *c = &s->content;
    switch (c->ref) {
    case YJS_CONTENT_DELETED:
        printf(" deleted\n");
        return;
    case YJS_CONTENT_JSON:
        printf(" json[%" PRIu64 "]\n", c->count);
        return;
    case YJS_CONTENT_BINARY:
        printf(" binary(%zu bytes)\n", c->body.len);
        return;
    case YJS_CONTENT_STRING:
        printf(" string ");
        print_text(&c->body, 60);
        putchar('\n');
        return;
    case YJS_CONTENT_EMBED:
        printf(" embed ");
        print_text(&c->body, 60);
        putchar('\n');
        return;
    case YJS_CONTENT_FORMAT:
        printf(" format ");
        print_text(&c->key, 40);
        printf("=");
        print_text(&c->body, 40);
        putchar('\n');
        return;
    case YJS_CONTENT_TYPE:
        printf(" type %s", type_names[c->type_ref]);
        if (c->body.len) {
            printf(" ");
            print_text(&c->body, 40);
        }
        putchar('\n');
        return;
    case YJS_CONTENT_ANY:
        printf(" any[%" PRIu64 "]\n", c->count);
        return;
    case YJS_CONTENT_DOC:
        printf(" doc guid=");
        print_text(&c->body, 60);
        putchar('\n');
        return;
    default:
        putchar('\n');
    }
}

static int list_structs(const uint8_t *buf, size_t len, unsigned flags)
{
    yjs_decoder_t d;
    if (yjs_decode_init(&d, buf, len, NULL, flags) != QUIRE_OK)
        return 1;
    yjs_struct_t s;
    int r;
    printf("structs:\n");
    while ((r = yjs_decode_next_struct(&d, &s)) > 0)
        print_struct(&s);
    printf("delete set:\n");
    uint64_t client, clock, dlen;
    if (r == 0)
        while ((r = yjs_decode_next_delete(&d, &client, &clock, &dlen)) > 0)
            printf("  (%" PRIu64 ",%" PRIu64 ")+%" PRIu64 "\n", client, clock, dlen);
    return r < 0;
}

static int inspect_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    if (argc != 1) {
        fprintf(stderr, "quire yjs inspect: expected one update file (or -)\n");
        return 2;
    }
    uint8_t *buf;
    size_t len;
    if (read_input(argv[0], &buf, &len) != 0)
        return 1;
    yjs_validation_t v = {0};
    quire_err_t err = yjs_update_validate(buf, len, NULL, flags_of(conf), &v);
    int status = 0;
    if (err != QUIRE_OK) {
        status = refused("inspect", argv[0], err, &v.error);
        if (conf->json)
            printf("{\"ok\":false,\"error\":\"%s\",\"message\":\"%s\",\"offset\":%zu}\n",
                   quire_err_name(err), v.error.message, v.error.offset);
        goto out;
    }
    uint8_t *sv = NULL;
    size_t sv_len = 0;
    yjs_error_t e;
    yjs_update_state_vector(buf, len, NULL, flags_of(conf), &sv, &sv_len, &e);
    if (conf->json) {
        printf("{\"ok\":true,\"bytes\":%zu,\"structs\":%" PRIu64 ",\"skips\":%" PRIu64
               ",\"delete_ranges\":%" PRIu64 ",\"ranges\":[",
               len, v.nstructs, v.nskips, v.ndelete_ranges);
        for (size_t i = 0; i < v.nranges; i++)
            printf("%s{\"client\":%" PRIu64 ",\"clock\":%" PRIu64 ",\"end\":%" PRIu64 "}",
                   i ? "," : "", v.ranges[i].client, v.ranges[i].clock, v.ranges[i].end);
        printf("],\"state_vector_bytes\":%zu}\n", sv_len);
    } else {
        printf("update: %zu bytes, %" PRIu64 " structs, %" PRIu64 " skips, %" PRIu64
               " delete ranges\nclient ranges:\n",
               len, v.nstructs, v.nskips, v.ndelete_ranges);
        for (size_t i = 0; i < v.nranges; i++)
            printf("  client %" PRIu64 " clocks [%" PRIu64 ", %" PRIu64 ")\n", v.ranges[i].client,
                   v.ranges[i].clock, v.ranges[i].end);
        if (conf->structs)
            list_structs(buf, len, flags_of(conf));
    }
    free(sv);
out:
    yjs_validation_deinit(&v);
    free(buf);
    return status;
}

static int validate_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    if (argc < 1) {
        fprintf(stderr, "quire yjs validate: expected update files\n");
        return 2;
    }
    int status = 0;
    yjs_validation_t v = {0};
    for (int i = 0; i < argc; i++) {
        uint8_t *buf;
        size_t len;
        if (read_input(argv[i], &buf, &len) != 0) {
            status = 1;
            continue;
        }
        quire_err_t err = yjs_update_validate(buf, len, NULL, flags_of(conf), &v);
        if (err != QUIRE_OK)
            status = refused("validate", argv[i], err, &v.error);
        free(buf);
    }
    yjs_validation_deinit(&v);
    return status;
}

/* ---- merge / diff / sv ------------------------------------------------------------------- */

static int merge_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    uint8_t **bufs = calloc((size_t)argc + 1, sizeof *bufs);
    size_t *lens = calloc((size_t)argc + 1, sizeof *lens);
    int status = 1;
    if (!bufs || !lens)
        goto out;
    for (int i = 0; i < argc; i++)
        if (read_input(argv[i], &bufs[i], &lens[i]) != 0)
            goto out;
    uint8_t *merged;
    size_t mlen;
    yjs_error_t e;
    quire_err_t err = yjs_update_merge((const uint8_t *const *)bufs, lens, (size_t)argc, NULL,
                                       flags_of(conf), &merged, &mlen, &e);
    if (err != QUIRE_OK) {
        status = refused("merge", argc ? argv[e.input] : "input", err, &e);
        goto out;
    }
    status = write_output(conf->out, merged, mlen);
    free(merged);
out:
    for (int i = 0; bufs && i < argc; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return status;
}

static int diff_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    if (argc != 2) {
        fprintf(stderr, "quire yjs diff: expected <update> <state-vector>\n");
        return 2;
    }
    uint8_t *u = NULL, *sv = NULL, *d = NULL;
    size_t ulen, svlen, dlen;
    int status = 1;
    if (read_input(argv[0], &u, &ulen) == 0 && read_input(argv[1], &sv, &svlen) == 0) {
        yjs_error_t e;
        quire_err_t err = yjs_update_diff(u, ulen, sv, svlen, NULL, flags_of(conf), &d, &dlen, &e);
        status = err == QUIRE_OK ? write_output(conf->out, d, dlen)
                                 : refused("diff", argv[e.input], err, &e);
    }
    free(u);
    free(sv);
    free(d);
    return status;
}

static int sv_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    if (argc != 1) {
        fprintf(stderr, "quire yjs sv: expected one update file (or -)\n");
        return 2;
    }
    uint8_t *u, *sv = NULL;
    size_t ulen, svlen;
    if (read_input(argv[0], &u, &ulen) != 0)
        return 1;
    yjs_error_t e;
    quire_err_t err = yjs_update_state_vector(u, ulen, NULL, flags_of(conf), &sv, &svlen, &e);
    int status =
        err == QUIRE_OK ? write_output(conf->out, sv, svlen) : refused("sv", argv[0], err, &e);
    free(u);
    free(sv);
    return status;
}

static int split_run(void *confp, int argc, char **argv)
{
    yjs_conf_t *conf = confp;
    if (argc != 1) {
        fprintf(stderr, "quire yjs split: expected one update file (or -)\n");
        return 2;
    }
    if (strcmp(conf->out, "-") == 0) {
        fprintf(stderr, "quire yjs split: --out PREFIX is required (parts go to PREFIX.000, …)\n");
        return 2;
    }
    uint8_t *u;
    size_t ulen;
    if (read_input(argv[0], &u, &ulen) != 0)
        return 1;
    yjs_parts_t parts = {0};
    yjs_error_t e;
    quire_err_t err =
        yjs_update_split(u, ulen, (size_t)conf->cap, NULL, flags_of(conf), &parts, &e);
    int status = 0;
    if (err != QUIRE_OK) {
        status = refused("split", argv[0], err, &e);
    } else {
        for (size_t i = 0; i < parts.n && status == 0; i++) {
            char path[4096];
            size_t plen;
            const uint8_t *p = yjs_parts_get(&parts, i, &plen);
            snprintf(path, sizeof path, "%s.%03zu", conf->out, i);
            status = write_output(path, p, plen);
        }
        if (status == 0)
            printf("%zu parts, %" PRIu64 " structs cut\n", parts.n, parts.nsliced);
    }
    yjs_parts_deinit(&parts);
    free(u);
    return status;
}

#define YJS_CMD(cname, csummary, csynopsis, crun)                                                  \
    {                                                                                              \
        .name = cname, .summary = csummary, .synopsis = csynopsis, .opts = yjs_opts,               \
        .nopts = QUIRE_NOPTS(yjs_opts), .conf_size = sizeof(yjs_conf_t), .run = crun               \
    }

const quire_cmd_t quire_cmd_yjs_inspect =
    YJS_CMD("yjs inspect", "validate a Yjs v1 update and describe it", "<update|->", inspect_run);
const quire_cmd_t quire_cmd_yjs_validate =
    YJS_CMD("yjs validate", "validate Yjs v1 updates (exit 1 on the first refusal)",
            "<update|->...", validate_run);
const quire_cmd_t quire_cmd_yjs_merge = YJS_CMD(
    "yjs merge", "merge Yjs v1 updates into one (Y.mergeUpdates)", "<update>...", merge_run);
const quire_cmd_t quire_cmd_yjs_diff =
    YJS_CMD("yjs diff", "what an update holds beyond a state vector (Y.diffUpdate)",
            "<update> <state-vector>", diff_run);
const quire_cmd_t quire_cmd_yjs_sv = YJS_CMD(
    "yjs sv", "state vector of an update (Y.encodeStateVectorFromUpdate)", "<update|->", sv_run);
const quire_cmd_t quire_cmd_yjs_split =
    YJS_CMD("yjs split", "split an update into valid updates of at most --cap bytes", "<update|->",
            split_run);
