/* quire user add|passwd — accounts that log in with a password (DESIGN §7). The password is read
 * from the first line of standard input, never from the command line (where `ps` and shell
 * history would show it); it is hashed with Argon2id and only the hash is stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "quire_account.h"
#include "quire_cmd.h"
#include "quire_control.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_password.h"
#include "quire_pg.h"

typedef struct user_conf_s {
    quire_common_conf_t common;
    quire_password_conf_t pw;
} user_conf_t;

static const quire_cfg_opt_t user_opts[] = {
    QUIRE_CFG_COMMON_OPTS(user_conf_t),
    QUIRE_CFG_PASSWORD_OPTS(user_conf_t, pw),
};

/* Reads one line from stdin (without echo on a terminal). 0 on success. */
static int read_password(char *buf, size_t len, size_t *ret_len)
{
    bool tty = isatty(0);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "password: ");
        tcgetattr(0, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
    }
    char *line = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!line)
        return -1;
    size_t n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n')
        return -2; /* longer than the buffer */
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *ret_len = n;
    return 0;
}

/* Hashes the password on stdin into hash; 0 on success, else an exit status. */
static int hash_stdin(const user_conf_t *conf, const char *cmd, char *hash, size_t hashlen)
{
    char pw[QUIRE_PASSWORD_MAX + 2];
    size_t n = 0;
    int rc = read_password(pw, sizeof pw, &n);
    if (rc != 0 || n < QUIRE_PASSWORD_MIN || n > QUIRE_PASSWORD_MAX) {
        fprintf(stderr, "quire %s: give a password of %d-%d characters on standard input\n", cmd,
                QUIRE_PASSWORD_MIN, QUIRE_PASSWORD_MAX);
        memset(pw, 0, sizeof pw);
        return 2;
    }
    quire_password_params_t params = {(uint64_t)conf->pw.ops, (uint64_t)conf->pw.mem_bytes};
    quire_err_t err = quire_password_hash(pw, n, &params, hash, hashlen);
    memset(pw, 0, sizeof pw);
    if (err) {
        fprintf(stderr, "quire %s: could not hash the password: %s\n", cmd, quire_err_str(err));
        return 1;
    }
    return 0;
}

static PGconn *connect_pg(const user_conf_t *conf, const char *cmd)
{
    char err[512];
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-user", err, sizeof err);
    if (!pg)
        fprintf(stderr, "quire %s: %s\n", cmd, err);
    return pg;
}

static int check_user_arg(int argc, char **argv, const char *cmd)
{
    if (argc != 1 || !quire_user_id_valid(argv[0])) {
        fprintf(stderr, "quire %s: give one user id (1-64 of [A-Za-z0-9._@+-])\n", cmd);
        return 2;
    }
    return 0;
}

static int add_run(void *confp, int argc, char **argv)
{
    user_conf_t *conf = confp;
    char hash[QUIRE_PASSWORD_HASH_MAX], err[512];
    int rc = check_user_arg(argc, argv, "user add");
    if (!rc)
        rc = hash_stdin(conf, "user add", hash, sizeof hash);
    if (rc)
        return rc;
    PGconn *pg = connect_pg(conf, "user add");
    if (!pg)
        return 1;
    quire_err_t e = quire_account_user_add(pg, argv[0], hash, err, sizeof err);
    PQfinish(pg);
    if (e) {
        fprintf(stderr, "quire user add: %s\n", err);
        return e == QUIRE_ERR_EXISTS ? 3 : 1;
    }
    printf("user %s added\n", argv[0]);
    return 0;
}

static int passwd_run(void *confp, int argc, char **argv)
{
    user_conf_t *conf = confp;
    char hash[QUIRE_PASSWORD_HASH_MAX], err[512];
    int rc = check_user_arg(argc, argv, "user passwd");
    if (!rc)
        rc = hash_stdin(conf, "user passwd", hash, sizeof hash);
    if (rc)
        return rc;
    PGconn *pg = connect_pg(conf, "user passwd");
    if (!pg)
        return 1;
    int revoked = 0;
    quire_err_t e = quire_account_user_passwd(pg, argv[0], hash, (int64_t)time(NULL), &revoked, err,
                                              sizeof err);
    PQfinish(pg);
    if (e) {
        fprintf(stderr, "quire user passwd: %s\n", err);
        return e == QUIRE_ERR_NOT_FOUND ? 3 : 1;
    }
    /* every gateway closes the user's sockets; the sessions are revoked already */
    char topic[256], subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
    quire_control_t *c = quire_control_new(
        conf->common.kafka_brokers,
        quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_CONTROL, topic, sizeof topic), err,
        sizeof err);
    bool published =
        c && quire_control_subject(subject, sizeof subject, "user", argv[0], NULL) == QUIRE_OK &&
        quire_control_publish(c, subject, 10000) == QUIRE_OK;
    quire_control_destroy(c);
    printf("password of %s changed; %d session(s) ended\n", argv[0], revoked);
    if (!published)
        fprintf(stderr, "quire user passwd: could not tell the gateways (Kafka); open sockets "
                        "close when their access tokens expire\n");
    return 0;
}

const quire_cmd_t quire_cmd_user_add = {
    .name = "user add",
    .summary = "add a user who logs in with a password (read from standard input)",
    .synopsis = "<user>  < password",
    .opts = user_opts,
    .nopts = QUIRE_NOPTS(user_opts),
    .conf_size = sizeof(user_conf_t),
    .run = add_run,
};
const quire_cmd_t quire_cmd_user_passwd = {
    .name = "user passwd",
    .summary = "set a user's password (standard input) and end all the user's sessions",
    .synopsis = "<user>  < password",
    .opts = user_opts,
    .nopts = QUIRE_NOPTS(user_opts),
    .conf_size = sizeof(user_conf_t),
    .run = passwd_run,
};
