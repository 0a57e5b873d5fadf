/*
 * api_auth — authentication and the session routes of `quire api` (see the header; the contract
 * is docs/auth.md).
 *
 * What must stay true:
 *   - no token is ever in a response body or a log line; Set-Cookie is the only way out;
 *   - every Set-Cookie is `__Host-…; Path=/; Secure; HttpOnly; SameSite=Strict` (set_cookie());
 *   - nothing changes on a cookie-authenticated request until Origin and the CSRF token passed;
 *   - a refresh answers only after the rotation committed, and a detected reuse is published on
 *     the control topic before the 401 goes out (bounded by publish_timeout_ms), so a test that
 *     sees the 401 can measure the time until the family's sockets close.
 */
#include "api_auth.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_ctx.h"
#include "quire_log.h"

#define MAX_ORIGINS 32
#define ORIGIN_MAX  256

struct api_auth_s {
    api_auth_conf_t conf;
    char origins[MAX_ORIGINS][ORIGIN_MAX];
    int norigins;
};

api_auth_t *api_auth_new(const api_auth_conf_t *conf, char *errbuf, size_t errlen)
{
    api_auth_t *auth = calloc(1, sizeof *auth);
    if (!auth) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    auth->conf = *conf;
    auth->conf.allowed_origins = NULL;
    const char *p = conf->allowed_origins ? conf->allowed_origins : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (auth->norigins == MAX_ORIGINS || n >= ORIGIN_MAX ||
            (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)) {
            snprintf(errbuf, errlen,
                     "allowed origins are at most %d of scheme://host[:port], comma-separated",
                     MAX_ORIGINS);
            free(auth);
            return NULL;
        }
        memcpy(auth->origins[auth->norigins], p, n);
        auth->origins[auth->norigins][n] = '\0';
        auth->norigins++;
        p += n;
    }
    if (auth->conf.access_ttl_s <= 0)
        auth->conf.access_ttl_s = 900;
    if (auth->conf.publish_timeout_ms <= 0)
        auth->conf.publish_timeout_ms = 5000;
    return auth;
}

void api_auth_destroy(api_auth_t *auth)
{
    free(auth);
}

void api_auth_publish(api_auth_t *auth, const char *subject)
{
    quire_access_forget(auth->conf.access, subject);
    if (auth->conf.control && quire_control_publish_async(auth->conf.control, subject) != QUIRE_OK)
        QLOG_WARN("could not publish a revocation", "subject=\"%s\"", subject);
}

/* Publishes and waits (logout, reuse): the answer goes out once the gateways can know. */
static void publish_wait(api_auth_t *auth, const char *subject)
{
    quire_access_forget(auth->conf.access, subject);
    quire_err_t err = auth->conf.control ? quire_control_publish(auth->conf.control, subject,
                                                                 auth->conf.publish_timeout_ms)
                                         : QUIRE_OK;
    if (err)
        QLOG_WARN("could not publish a revocation; sockets close when their tokens expire",
                  "subject=\"%s\" err=\"%s\"", subject, quire_err_str(err));
}

/* ---------------------------------------------------------------- origin, CSRF, cookies */

static bool origin_listed(const api_auth_t *auth, const char *origin)
{
    for (int i = 0; i < auth->norigins; i++)
        if (strcmp(auth->origins[i], origin) == 0)
            return true;
    return false;
}

/* Requests made with cookies: an allowlisted Origin, or (no Origin) Sec-Fetch-Site same-origin. */
static bool origin_ok_for_cookies(const api_auth_t *auth, api_req_t *req)
{
    const char *origin = api_req_header(req, "Origin");
    if (origin)
        return origin_listed(auth, origin);
    const char *site = api_req_header(req, "Sec-Fetch-Site");
    return site && strcmp(site, "same-origin") == 0;
}

/* Requests without cookies (login): a browser's request must come from an allowlisted origin
 * (no login CSRF); a client that sends neither header is not a browser. */
static bool origin_ok_for_login(const api_auth_t *auth, api_req_t *req)
{
    const char *origin = api_req_header(req, "Origin");
    if (origin)
        return origin_listed(auth, origin);
    const char *site = api_req_header(req, "Sec-Fetch-Site");
    return !site || strcmp(site, "same-origin") == 0 || strcmp(site, "none") == 0;
}

static void set_cookie(api_req_t *req, const char *name, const char *value, int64_t max_age_s)
{
    char buf[QUIRE_TOKEN_MAX_LEN + 160];
    snprintf(buf, sizeof buf, "%s=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; SameSite=Strict",
             name, value, (long long)(max_age_s > 0 ? max_age_s : 0));
    api_add_header(req, "Set-Cookie", buf);
}

static void clear_cookies(api_req_t *req)
{
    set_cookie(req, API_ACCESS_COOKIE, "", 0);
    set_cookie(req, API_REFRESH_COOKIE, "", 0);
}

static void csrf_refused(api_req_t *req, bool origin)
{
    if (origin)
        api_reply_error(req, 403, "origin_not_allowed",
                        "this request must come from an allowed origin");
    else
        api_reply_error(req, 403, "csrf_failed",
                        "X-CSRF-Token is missing or does not belong to this session");
}

/* ---------------------------------------------------------------- authentication */

typedef enum { VIA_NONE, VIA_BEARER, VIA_COOKIE } via_t;

/* Verifies the bearer header or the access cookie. QUIRE_ERR_UNAUTHENTICATED when there is no
 * valid token; QUIRE_ERR_UNAVAILABLE when the session cannot be checked. */
static quire_err_t identify(api_ctx_t *ctx, api_req_t *req, quire_identity_t *ret_id,
                            via_t *ret_via)
{
    const char *token = NULL;
    via_t via = VIA_NONE;
    const char *h = api_req_header(req, "Authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return QUIRE_ERR_UNAUTHENTICATED;
        token = h + 7;
        via = VIA_BEARER;
    } else if ((token = api_req_cookie(req, API_ACCESS_COOKIE)) != NULL) {
        via = VIA_COOKIE;
    } else {
        return QUIRE_ERR_UNAUTHENTICATED;
    }
    char why[128];
    int64_t now = (int64_t)time(NULL);
    quire_identity_t id;
    if (quire_tokens_verify(ctx->tokens, token, now, &id, why, sizeof why) != QUIRE_OK) {
        QLOG_DEBUG("request not authenticated", "path=%s via=%s reason=\"%s\"", api_req_path(req),
                   via == VIA_BEARER ? "bearer" : "cookie", why);
        return QUIRE_ERR_UNAUTHENTICATED;
    }
    quire_err_t err = quire_access_session(ctx->access, id.session, now);
    if (err == QUIRE_ERR_UNAUTHENTICATED)
        QLOG_DEBUG("request not authenticated", "path=%s reason=\"session revoked\" session=%s",
                   api_req_path(req), id.session);
    if (err)
        return err;
    *ret_id = id;
    *ret_via = via;
    return QUIRE_OK;
}

static bool changes_state(api_req_t *req)
{
    const char *m = api_req_method(req);
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

quire_err_t api_auth_authenticate(api_req_t *req, void *ctxp, quire_identity_t *ret_identity)
{
    api_ctx_t *ctx = ctxp;
    quire_identity_t id;
    via_t via = VIA_NONE;
    quire_err_t err = identify(ctx, req, &id, &via);
    if (err == QUIRE_ERR_UNAVAILABLE) {
        api_add_header(req, "Retry-After", "1");
        api_reply_error(req, 503, "unavailable", "sessions cannot be checked now; retry");
    }
    if (err)
        return err;
    if (via == VIA_COOKIE && changes_state(req)) {
        bool origin_ok = origin_ok_for_cookies(ctx->auth, req);
        if (!origin_ok ||
            !quire_tokens_csrf_ok(ctx->tokens, id.session, api_req_header(req, "X-CSRF-Token"))) {
            QLOG_INFO("request refused: cross-site or no CSRF token",
                      "path=%s method=%s user=%s origin_ok=%s", api_req_path(req),
                      api_req_method(req), id.user, origin_ok ? "true" : "false");
            csrf_refused(req, !origin_ok);
            return QUIRE_ERR_DENIED;
        }
    }
    *ret_identity = id;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- answers */

/* 200 {"user","csrf_token","access_expires_at"} with a fresh access cookie (and the refresh
 * cookie when given). */
static void reply_session(api_ctx_t *ctx, api_req_t *req, const char *user, const char *session,
                          const char *refresh, int64_t refresh_expires_at_s)
{
    api_auth_t *auth = ctx->auth;
    int64_t now = (int64_t)time(NULL);
    char *access = NULL;
    char csrf[QUIRE_CSRF_TOKEN_LEN + 1];
    if (quire_tokens_issue(ctx->tokens, user, session, now, auth->conf.access_ttl_s, &access) !=
            QUIRE_OK ||
        quire_tokens_csrf(ctx->tokens, session, csrf, sizeof csrf) != QUIRE_OK) {
        free(access);
        api_reply_error(req, 500, "internal", "could not issue a token");
        return;
    }
    set_cookie(req, API_ACCESS_COOKIE, access, auth->conf.access_ttl_s);
    sodium_memzero(access, strlen(access));
    free(access);
    if (refresh)
        set_cookie(req, API_REFRESH_COOKIE, refresh, refresh_expires_at_s - now);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", user);
    cJSON_AddStringToObject(j, "csrf_token", csrf);
    cJSON_AddNumberToObject(j, "access_expires_at", (double)(now + auth->conf.access_ttl_s));
    api_reply_json(req, 200, j);
}

static void reply_unauthenticated(api_req_t *req, const char *code, const char *message)
{
    api_add_header(req, "WWW-Authenticate", "Bearer");
    clear_cookies(req);
    api_reply_error(req, 401, code, "%s", message);
}

/* ---------------------------------------------------------------- routes */

api_next_t api_auth_login(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    if (!origin_ok_for_login(ctx->auth, req)) {
        csrf_refused(req, true);
        return API_DONE;
    }
    const char *ctype = api_req_header(req, "Content-Type");
    if (!ctype || strncmp(ctype, "application/json", 16) != 0) {
        api_reply_error(req, 415, "unsupported_media_type", "send a JSON object");
        return API_DONE;
    }
    size_t len;
    const uint8_t *body = api_req_body(req, &len);
    cJSON *j = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *u = j ? cJSON_GetObjectItemCaseSensitive(j, "user") : NULL;
    const cJSON *p = j ? cJSON_GetObjectItemCaseSensitive(j, "password") : NULL;
    bool ok = j && cJSON_IsObject(j) && cJSON_IsString(u) && cJSON_IsString(p);
    int members = 0;
    for (const cJSON *c = j ? j->child : NULL; ok && c; c = c->next)
        members++;
    if (!ok || members != 2) {
        cJSON_Delete(j);
        api_reply_error(req, 400, "bad_request",
                        "the body is {\"user\": string, \"password\": string}");
        return API_DONE;
    }
    quire_grant_t g;
    size_t plen = strlen(p->valuestring);
    quire_err_t err = quire_account_login(ctx->auth->conf.account, u->valuestring, p->valuestring,
                                          plen, (int64_t)time(NULL), &g);
    sodium_memzero(p->valuestring, plen);
    cJSON_Delete(j);
    if (err == QUIRE_ERR_UNAUTHENTICATED) { /* a session the browser may hold stays as it is */
        QLOG_INFO("login refused", "reason=\"wrong user or password\"");
        api_add_header(req, "WWW-Authenticate", "Bearer");
        api_reply_error(req, 401, "invalid_credentials", "wrong user or password");
        return API_DONE;
    }
    if (err) {
        api_reply_quire_err(req, err, "logins are not possible now; retry");
        return API_DONE;
    }
    QLOG_INFO("login", "user=%s session=%s", g.user, g.session);
    reply_session(ctx, req, g.user, g.session, g.refresh, g.refresh_expires_at_s);
    sodium_memzero(&g, sizeof g);
    return API_DONE;
}

/* The refresh cookie, if it has a refresh token's shape. */
static const char *refresh_cookie(api_req_t *req)
{
    const char *r = api_req_cookie(req, API_REFRESH_COOKIE);
    return r && quire_refresh_token_valid(r) ? r : NULL;
}

api_next_t api_auth_refresh(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    api_auth_t *auth = ctx->auth;
    if (!origin_ok_for_cookies(auth, req)) {
        csrf_refused(req, true);
        return API_DONE;
    }
    const char *token = refresh_cookie(req);
    char sid[QUIRE_SESSION_ID_MAX + 1];
    quire_err_t err =
        token ? quire_account_session_of(auth->conf.account, token, sid) : QUIRE_ERR_NOT_FOUND;
    if (err == QUIRE_ERR_NOT_FOUND) {
        reply_unauthenticated(req, "unauthenticated", "no valid refresh token; log in");
        return API_DONE;
    }
    if (err) {
        api_reply_quire_err(req, err, "sessions cannot be checked now; retry");
        return API_DONE;
    }
    if (!quire_tokens_csrf_ok(ctx->tokens, sid, api_req_header(req, "X-CSRF-Token"))) {
        csrf_refused(req, false);
        return API_DONE;
    }
    quire_refresh_result_t res;
    err = quire_account_refresh(auth->conf.account, token, (int64_t)time(NULL), &res);
    if (err) {
        api_reply_quire_err(req, err, "sessions cannot be checked now; retry");
        return API_DONE;
    }
    if (res.outcome == QUIRE_REFRESH_REFUSED)
        QLOG_INFO("refresh refused", "reason=\"%s\"", res.why);
    if (res.outcome == QUIRE_REFRESH_GRANTED) {
        reply_session(ctx, req, res.grant.user, res.grant.session, res.grant.refresh,
                      res.grant.refresh_expires_at_s);
    } else {
        if (res.outcome == QUIRE_REFRESH_REUSED) {
            QLOG_WARN("refresh token reuse: session revoked", "session=%s user=%s", res.session,
                      res.grant.user);
            char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
            if (quire_control_subject(subject, sizeof subject, "session", res.session, NULL) ==
                QUIRE_OK)
                publish_wait(auth, subject);
        }
        reply_unauthenticated(
            req, res.outcome == QUIRE_REFRESH_REUSED ? "refresh_reused" : "unauthenticated",
            res.outcome == QUIRE_REFRESH_REUSED
                ? "this refresh token was already used; the session is closed"
                : "no valid refresh token; log in");
    }
    sodium_memzero(&res, sizeof res);
    return API_DONE;
}

api_next_t api_auth_logout(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    api_auth_t *auth = ctx->auth;
    char sid[QUIRE_SESSION_ID_MAX + 1] = "";
    bool bearer = false;
    quire_identity_t id;
    via_t via = VIA_NONE;
    quire_err_t err = QUIRE_OK;
    const char *token = refresh_cookie(req);
    if (api_req_header(req, "Authorization")) {
        err = identify(ctx, req, &id, &via);
        if (err == QUIRE_OK) {
            snprintf(sid, sizeof sid, "%s", id.session);
            bearer = true;
        } else if (err == QUIRE_ERR_UNAUTHENTICATED) {
            reply_unauthenticated(req, "unauthenticated", "authentication required");
            return API_DONE;
        }
    } else {
        if (!origin_ok_for_cookies(auth, req)) {
            csrf_refused(req, true);
            return API_DONE;
        }
        if (token)
            err = quire_account_session_of(auth->conf.account, token, sid);
        if (!token || err == QUIRE_ERR_NOT_FOUND) {
            err = identify(ctx, req, &id, &via);
            if (err == QUIRE_OK)
                snprintf(sid, sizeof sid, "%s", id.session);
            else if (err == QUIRE_ERR_UNAUTHENTICATED)
                err = QUIRE_OK, sid[0] = '\0'; /* nothing to end */
        }
    }
    if (err) {
        api_reply_quire_err(req, err, "sessions cannot be checked now; retry");
        return API_DONE;
    }
    if (sid[0] && !bearer &&
        !quire_tokens_csrf_ok(ctx->tokens, sid, api_req_header(req, "X-CSRF-Token"))) {
        csrf_refused(req, false);
        return API_DONE;
    }
    if (sid[0]) {
        err = quire_account_revoke(auth->conf.account, sid, (int64_t)time(NULL), "logout");
        if (err) {
            api_reply_quire_err(req, err, "could not end the session; retry");
            return API_DONE;
        }
        char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
        if (quire_control_subject(subject, sizeof subject, "session", sid, NULL) == QUIRE_OK)
            publish_wait(auth, subject);
        QLOG_INFO("logout", "session=%s", sid);
    }
    clear_cookies(req);
    api_reply(req, 204, "application/json", "", 0);
    return API_DONE;
}

api_next_t api_auth_me(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    api_auth_t *auth = ctx->auth;
    quire_identity_t id;
    via_t via = VIA_NONE;
    quire_err_t err = identify(ctx, req, &id, &via);
    if (err == QUIRE_OK) {
        char csrf[QUIRE_CSRF_TOKEN_LEN + 1];
        if (quire_tokens_csrf(ctx->tokens, id.session, csrf, sizeof csrf) != QUIRE_OK) {
            api_reply_error(req, 500, "internal", "could not derive the CSRF token");
            return API_DONE;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "user", id.user);
        cJSON_AddStringToObject(j, "csrf_token", csrf);
        cJSON_AddNumberToObject(j, "access_expires_at", (double)id.expires_at_s);
        api_reply_json(req, 200, j);
        return API_DONE;
    }
    if (err != QUIRE_ERR_UNAUTHENTICATED) {
        api_reply_quire_err(req, err, "sessions cannot be checked now; retry");
        return API_DONE;
    }
    /* The access token is gone or expired. A page reloaded later still holds the refresh cookie:
     * tell it the CSRF token of that session so it can refresh (GET changes nothing). */
    const char *token = refresh_cookie(req);
    char sid[QUIRE_SESSION_ID_MAX + 1];
    if (token && quire_account_session_of(auth->conf.account, token, sid) == QUIRE_OK &&
        quire_access_session(ctx->access, sid, (int64_t)time(NULL)) == QUIRE_OK) {
        char csrf[QUIRE_CSRF_TOKEN_LEN + 1];
        if (quire_tokens_csrf(ctx->tokens, sid, csrf, sizeof csrf) == QUIRE_OK) {
            cJSON *j = cJSON_CreateObject();
            cJSON *e = cJSON_AddObjectToObject(j, "error");
            cJSON_AddStringToObject(e, "code", "access_expired");
            cJSON_AddStringToObject(e, "message", "the access token expired; refresh");
            cJSON_AddStringToObject(j, "csrf_token", csrf);
            api_add_header(req, "WWW-Authenticate", "Bearer");
            api_reply_json(req, 401, j);
            return API_DONE;
        }
    }
    api_add_header(req, "WWW-Authenticate", "Bearer");
    api_reply_error(req, 401, "unauthenticated", "authentication required");
    return API_DONE;
}
