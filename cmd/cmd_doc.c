/* quire doc share — an operator's way to set who may use a document (DESIGN §7, docs/auth.md),
 * the same rules as the REST share endpoints: --owner claims a document nobody owns yet (an
 * existing owner is kept, another owner is an error); each USER[=ROLE] gets viewer or editor,
 * or loses membership with =none. Every change is published on the control topic, so gateways
 * apply it to open sockets at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire_access.h"
#include "quire_cmd.h"
#include "quire_control.h"
#include "quire_kafka.h"
#include "quire_log.h"

typedef struct share_conf_s {
    quire_common_conf_t common;
    char *owner;
    char *role;
} share_conf_t;

static const quire_cfg_opt_t share_opts[] = {
    QUIRE_CFG_COMMON_OPTS(share_conf_t),
    {"owner", QUIRE_CFG_STRING, "", 0, -1, offsetof(share_conf_t, owner), QUIRE_CFG_NO_ENV,
     "make this user the owner of a document nobody owns yet (refused if another owns it)"},
    {"role", QUIRE_CFG_STRING, "editor", 0, -1, offsetof(share_conf_t, role), QUIRE_CFG_NO_ENV,
     "role of users given without =ROLE: viewer, editor or none (removes)"},
};

/* Applies one USER[=ROLE]; 0, or an exit status after printing why. */
static int share_one(quire_access_t *acc, const char *doc, const char *arg, const char *dflt,
                     const char *by, quire_control_t *ctl, bool *ret_published)
{
    char user[QUIRE_USER_MAX + 2];
    const char *eq = strchr(arg, '=');
    size_t ul = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *rname = eq ? eq + 1 : dflt;
    if (ul == 0 || ul > QUIRE_USER_MAX) {
        fprintf(stderr, "quire doc share: bad user \"%s\"\n", arg);
        return 2;
    }
    memcpy(user, arg, ul);
    user[ul] = '\0';
    if (!quire_user_id_valid(user)) {
        fprintf(stderr, "quire doc share: bad user \"%s\"\n", user);
        return 2;
    }
    quire_err_t err;
    if (strcmp(rname, "none") == 0) {
        err = quire_access_remove(acc, doc, user);
        if (err == QUIRE_ERR_NOT_FOUND)
            err = QUIRE_OK; /* removing a non-member changes nothing */
    } else {
        quire_role_t role;
        if (quire_role_parse(rname, &role) != QUIRE_OK || role == QUIRE_ROLE_OWNER) {
            fprintf(stderr, "quire doc share: role of %s must be viewer, editor or none\n", user);
            return 2;
        }
        err = quire_access_set_role(acc, doc, user, role, by);
    }
    if (err) {
        fprintf(stderr, "quire doc share: %s in %s: %s%s\n", user, doc, quire_err_str(err),
                err == QUIRE_ERR_CONFLICT ? " (the owner's role never changes)" : "");
        return err == QUIRE_ERR_CONFLICT ? 3 : 1;
    }
    char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
    *ret_published =
        ctl && quire_control_subject(subject, sizeof subject, "member", doc, user) == QUIRE_OK &&
        quire_control_publish(ctl, subject, 10000) == QUIRE_OK;
    printf("%s: %s is %s\n", doc, user, rname);
    return 0;
}

static int share_run(void *confp, int argc, char **argv)
{
    share_conf_t *conf = confp;
    if (argc < 1 || (argc < 2 && !conf->owner[0])) {
        fprintf(stderr, "quire doc share: give a document and --owner and/or users\n");
        return 2;
    }
    const char *doc = argv[0];
    size_t dl = strlen(doc);
    if (dl == 0 || dl > 128 ||
        strspn(doc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._~-") != dl) {
        fprintf(stderr, "quire doc share: bad document id\n");
        return 2;
    }
    if (conf->owner[0] && !quire_user_id_valid(conf->owner)) {
        fprintf(stderr, "quire doc share: bad --owner\n");
        return 2;
    }
    char err[512], topic[256];
    int rc = 0;
    quire_pgpool_t *pool = quire_pgpool_new(conf->common.pg, "quire-doc-share", 1);
    quire_access_conf_t ac = {.pool = pool, .pg_timeout_ms = 10000};
    quire_access_t *acc = pool ? quire_access_new(&ac) : NULL;
    quire_control_t *ctl = quire_control_new(
        conf->common.kafka_brokers,
        quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_CONTROL, topic, sizeof topic), err,
        sizeof err);
    if (!acc) {
        fprintf(stderr, "quire doc share: out of memory\n");
        rc = 1;
        goto out;
    }
    const char *by = conf->owner[0] ? conf->owner : "operator";
    if (conf->owner[0]) {
        quire_role_t role = QUIRE_ROLE_NONE;
        quire_err_t e = quire_access_claim(acc, doc, conf->owner, &role);
        if (e || role != QUIRE_ROLE_OWNER) {
            fprintf(stderr, "quire doc share: %s cannot own %s: %s\n", conf->owner, doc,
                    e ? quire_err_str(e) : "another user owns it");
            rc = e ? 1 : 3;
            goto out;
        }
        printf("%s: %s is owner\n", doc, conf->owner);
    }
    bool all_published = true;
    for (int i = 1; i < argc && !rc; i++) {
        bool published = false;
        rc = share_one(acc, doc, argv[i], conf->role, by, ctl, &published);
        all_published = all_published && (rc || published);
    }
    if (!rc && !all_published)
        fprintf(stderr, "quire doc share: could not tell the gateways (Kafka): open sockets follow "
                        "within their access cache's lifetime\n");
out:
    quire_control_destroy(ctl);
    quire_access_destroy(acc);
    quire_pgpool_destroy(pool);
    return rc;
}

const quire_cmd_t quire_cmd_doc_share = {
    .name = "doc share",
    .summary = "set who may use a document: --owner claims it; USER[=viewer|editor|none] shares",
    .synopsis = "<doc> [--owner U] [USER[=ROLE]...]",
    .opts = share_opts,
    .nopts = QUIRE_NOPTS(share_opts),
    .conf_size = sizeof(share_conf_t),
    .run = share_run,
};
