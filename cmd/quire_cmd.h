/*
 * quire_cmd — one subcommand of the `quire` executable.
 *
 * A command is a row: its name (one or two words: "gateway", "yjs inspect"), a one-line summary,
 * the synopsis of its positional arguments, its option table and the size of its configuration
 * struct, and the function that runs it. The dispatcher parses the options into a zeroed struct,
 * handles --help, sets up logging from the common options when the command has them, and calls
 * run with the positional arguments. run returns the process exit status.
 */
#ifndef QUIRE_CMD_H
#define QUIRE_CMD_H

#include <stddef.h>

#include "quire_cfg.h"

typedef struct quire_cmd_s {
    const char *name;
    const char *summary;
    const char *synopsis; /* positional arguments, e.g. "<doc-id>"; "" when none */
    const quire_cfg_opt_t *opts;
    size_t nopts;
    size_t conf_size;
    int (*run)(void *conf, int argc, char **argv);
} quire_cmd_t;

#define QUIRE_NOPTS(table) (sizeof(table) / sizeof((table)[0]))

/* Commands provided by cmd/ itself. */
extern const quire_cmd_t quire_cmd_migrate;
extern const quire_cmd_t quire_cmd_version;
extern const quire_cmd_t quire_cmd_api;
extern const quire_cmd_t quire_cmd_events_tail;
extern const quire_cmd_t quire_cmd_gateway;
extern const quire_cmd_t quire_cmd_partition;
extern const quire_cmd_t quire_cmd_token_issue;
extern const quire_cmd_t quire_cmd_token_verify;
extern const quire_cmd_t quire_cmd_token_keygen;
extern const quire_cmd_t quire_cmd_user_add;
extern const quire_cmd_t quire_cmd_user_passwd;

/* The read model (projector/). */
extern const quire_cmd_t quire_cmd_projector;
extern const quire_cmd_t quire_cmd_replay;
extern const quire_cmd_t quire_cmd_verify;

/* Snapshots, recovery and history (compactor/). */
extern const quire_cmd_t quire_cmd_compactor;
extern const quire_cmd_t quire_cmd_bootstrap;
extern const quire_cmd_t quire_cmd_audit;
extern const quire_cmd_t quire_cmd_doc_get;
/* Access (cmd/cmd_doc.c). */
extern const quire_cmd_t quire_cmd_doc_share;

/* Yjs engine tools (cmd/cmd_yjs.c). */
extern const quire_cmd_t quire_cmd_yjs_inspect;
extern const quire_cmd_t quire_cmd_yjs_validate;
/* The integrated document (cmd/cmd_ydoc.c). */
extern const quire_cmd_t quire_cmd_yjs_content;
extern const quire_cmd_t quire_cmd_yjs_merge;
extern const quire_cmd_t quire_cmd_yjs_diff;
extern const quire_cmd_t quire_cmd_yjs_sv;
extern const quire_cmd_t quire_cmd_yjs_split;

#endif
