/* quire migrate / quire version — the tools cmd/ owns itself. */
#include <stdio.h>

#include "quire_cmd.h"
#include "quire_log.h"
#include "quire_pg.h"

typedef struct migrate_conf_s {
    quire_common_conf_t common;
    bool status;
} migrate_conf_t;

static const quire_cfg_opt_t migrate_opts[] = {
    QUIRE_CFG_COMMON_OPTS(migrate_conf_t),
    {"status", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(migrate_conf_t, status), 0,
     "print the database's schema version and the binary's, apply nothing"},
};

static int migrate_run(void *confp, int argc, char **argv)
{
    migrate_conf_t *conf = confp;
    char errbuf[1024];
    if (argc > 0) {
        fprintf(stderr, "quire migrate: unexpected argument \"%s\"\n", argv[0]);
        return 2;
    }
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-migrate", errbuf, sizeof errbuf);
    if (!pg) {
        QLOG_ERROR("could not connect to PostgreSQL", "err=\"%s\"", errbuf);
        return 1;
    }
    int latest = quire_migrations_count ? quire_migrations[quire_migrations_count - 1].version : 0;
    int status = 0;
    if (conf->status) {
        int version = 0;
        if (quire_pg_schema_version(pg, &version, errbuf, sizeof errbuf) != QUIRE_OK)
            version = 0; /* no schema_migrations yet */
        printf("database schema version %d, binary carries %d\n", version, latest);
        status = version == latest ? 0 : 3;
    } else {
        int applied = 0;
        if (quire_pg_migrate(pg, quire_migrations, quire_migrations_count, &applied, errbuf,
                             sizeof errbuf) != QUIRE_OK) {
            QLOG_ERROR("migration failed", "err=\"%s\"", errbuf);
            status = 1;
        } else {
            QLOG_INFO("schema up to date", "applied=%d version=%d", applied, latest);
        }
    }
    PQfinish(pg);
    return status;
}

const quire_cmd_t quire_cmd_migrate = {
    .name = "migrate",
    .summary = "apply the SQL migrations this binary carries to PostgreSQL",
    .synopsis = "",
    .opts = migrate_opts,
    .nopts = QUIRE_NOPTS(migrate_opts),
    .conf_size = sizeof(migrate_conf_t),
    .run = migrate_run,
};

static int version_run(void *conf, int argc, char **argv)
{
    printf("quire %s\n", QUIRE_VERSION);
    return 0;
}

const quire_cmd_t quire_cmd_version = {
    .name = "version",
    .summary = "print the version",
    .synopsis = "",
    .conf_size = 1,
    .run = version_run,
};
