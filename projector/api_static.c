/* api_static — the web app's files; see the header for the rules. */
#include "api_static.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_ctx.h"
#include "quire_log.h"

#define STATIC_MAX_FILE (16u << 20)
#define STATIC_MAX_NAME 128

struct api_static_s {
    char *root;
    char *csp;
    char *config_json;
};

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
    {"webmanifest", "application/manifest+json"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
        if (strcmp(dot + 1, content_types[i].ext) == 0)
            return content_types[i].type;
    return NULL;
}

/* 1..128 of [A-Za-z0-9._-], not starting with '.' (so neither "." nor ".." nor hidden files). */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STATIC_MAX_NAME || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ws://host[:port] or wss://host[:port]; host of [A-Za-z0-9.-], port of digits. */
static bool gateway_ok(const char *s, size_t n)
{
    size_t i;
    if (n > 5 && strncmp(s, "ws://", 5) == 0)
        i = 5;
    else if (n > 6 && strncmp(s, "wss://", 6) == 0)
        i = 6;
    else
        return false;
    size_t host = i;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
        i++;
    if (i == host)
        return false;
    if (i < n && s[i] == ':') {
        size_t port = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == port || i - port > 5)
            return false;
    }
    return i == n && n < 200;
}

api_static_t *api_static_new(const char *root, const char *gateways, char *errbuf, size_t errlen)
{
    if (!root || !root[0]) {
        snprintf(errbuf, errlen, "no web root");
        return NULL;
    }
    api_static_t *st = calloc(1, sizeof *st);
    cJSON *cfg = cJSON_CreateObject();
    cJSON *list = cfg ? cJSON_AddArrayToObject(cfg, "gateways") : NULL;
    size_t cap = 512 + (gateways ? strlen(gateways) : 0);
    char *connect = malloc(cap);
    if (!st || !list || !connect || !(st->root = strdup(root)))
        goto oom;
    size_t used = (size_t)snprintf(connect, cap, "'self'");
    for (const char *p = gateways ? gateways : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == '/')
            n--;
        if (n) {
            if (!gateway_ok(p, n)) {
                snprintf(errbuf, errlen, "--web-gateways: \"%.*s\" is not ws://host[:port]",
                         (int)(n > 100 ? 100 : n), p);
                free(connect);
                cJSON_Delete(cfg);
                api_static_destroy(st);
                return NULL;
            }
            char *one = strndup(p, n);
            if (!one)
                goto oom;
            cJSON_AddItemToArray(list, cJSON_CreateString(one));
            used += (size_t)snprintf(connect + used, cap - used, " %s", one);
            free(one);
        }
        p = end ? end + 1 : p + strlen(p);
    }
    char csp[1024];
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "font-src 'self'; connect-src %s; worker-src 'self'; manifest-src 'self'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
             connect);
    free(connect);
    connect = NULL;
    st->csp = strdup(csp);
    st->config_json = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    if (!st->csp || !st->config_json) {
        api_static_destroy(st);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    return st;
oom:
    free(connect);
    cJSON_Delete(cfg);
    api_static_destroy(st);
    snprintf(errbuf, errlen, "out of memory");
    return NULL;
}

void api_static_destroy(api_static_t *st)
{
    if (!st)
        return;
    free(st->root);
    free(st->csp);
    free(st->config_json);
    free(st);
}

static void security_headers(api_static_t *st, api_req_t *req)
{
    api_add_header(req, "Content-Security-Policy", st->csp);
    api_add_header(req, "X-Frame-Options", "DENY");
    api_add_header(req, "Referrer-Policy", "no-referrer");
    api_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
}

static api_next_t not_found(api_req_t *req)
{
    api_reply_error(req, 404, "not_found", "no such resource");
    return API_DONE;
}

/* Reads rel below the root into a fresh buffer. 0, or an errno value. */
static int read_file(const api_static_t *st, const char *rel, uint8_t **ret_buf, size_t *ret_len,
                     struct stat *ret_st)
{
    int dfd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    int fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int e = fd < 0 ? errno : 0;
    close(dfd);
    if (fd < 0)
        return e;
    uint8_t *buf = NULL;
    if (fstat(fd, ret_st) != 0 || !S_ISREG(ret_st->st_mode) ||
        (uint64_t)ret_st->st_size > STATIC_MAX_FILE) {
        close(fd);
        return ENOENT;
    }
    size_t len = (size_t)ret_st->st_size, got = 0;
    buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return ENOMEM;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != len) {
        free(buf);
        return EIO;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

api_next_t api_static_serve(api_static_t *st, api_req_t *req)
{
    if (!st)
        return not_found(req);
    const char *path = api_req_path(req);
    char rel[STATIC_MAX_NAME + 16];
    bool immutable = false;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        snprintf(rel, sizeof rel, "index.html");
    } else if (strncmp(path, "/d/", 3) == 0) {
        if (!api_doc_id_valid(path + 3))
            return not_found(req);
        snprintf(rel, sizeof rel, "index.html"); /* the editor page; the app reads the id */
    } else if (strncmp(path, "/assets/", 8) == 0) {
        if (!name_ok(path + 8))
            return not_found(req);
        snprintf(rel, sizeof rel, "assets/%s", path + 8);
        immutable = true;
    } else if (strcmp(path, "/config.json") == 0) {
        security_headers(st, req);
        api_add_header(req, "Cache-Control", "no-cache");
        api_reply(req, 200, "application/json", st->config_json, strlen(st->config_json));
        return API_DONE;
    } else if (path[0] == '/' && name_ok(path + 1)) {
        snprintf(rel, sizeof rel, "%s", path + 1);
    } else {
        return not_found(req);
    }
    const char *type = type_of(rel);
    if (!type)
        return not_found(req);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat sb;
    int e = read_file(st, rel, &buf, &len, &sb);
    if (e) {
        if (strcmp(rel, "index.html") == 0 && e == ENOENT) {
            QLOG_WARN("the web app is not built", "root=%s", st->root);
            api_reply_error(req, 503, "web_app_missing",
                            "the web app is not built (npm run build in web/)");
            return API_DONE;
        }
        if (e == ENOMEM || e == EIO) {
            api_reply_error(req, 500, "internal", "cannot read the file");
            return API_DONE;
        }
        return not_found(req);
    }
    security_headers(st, req);
    if (immutable) {
        api_add_header(req, "Cache-Control", "public, max-age=31536000, immutable");
    } else {
        char etag[64];
        snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)sb.st_size,
                 (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec);
        api_add_header(req, "Cache-Control", "no-cache");
        api_add_header(req, "ETag", etag);
        const char *inm = api_req_header(req, "If-None-Match");
        if (inm && strcmp(inm, etag) == 0) {
            free(buf);
            api_reply(req, 304, type, "", 0);
            return API_DONE;
        }
    }
    api_reply(req, 200, type, buf, len);
    free(buf);
    return API_DONE;
}

api_next_t api_get_static(api_req_t *req, void *ctx)
{
    return api_static_serve(((api_ctx_t *)ctx)->web, req);
}
