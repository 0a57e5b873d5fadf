/* quire partition — which partition of quire.doc-updates a document lives in (DESIGN §3):
 * Java's default partitioner, murmur2 of the document id, so Kafka tooling agrees. */
#include <stdio.h>
#include <string.h>

#include "quire_cmd.h"
#include "quire_kafka.h"

typedef struct partition_conf_s {
    int64_t partitions;
} partition_conf_t;

static const quire_cfg_opt_t partition_opts[] = {
    {"partitions", QUIRE_CFG_INT, "12", 1, 100000, offsetof(partition_conf_t, partitions), 0,
     "partition count of the topic"},
};

static int partition_run(void *confp, int argc, char **argv)
{
    partition_conf_t *conf = confp;
    if (argc == 0) {
        fprintf(stderr, "quire partition: give one or more document ids (keys)\n");
        return 2;
    }
    for (int i = 0; i < argc; i++)
        printf("%s %d\n", argv[i],
               quire_kafka_partition_for(argv[i], strlen(argv[i]), (int32_t)conf->partitions));
    return 0;
}

const quire_cmd_t quire_cmd_partition = {
    .name = "partition",
    .summary = "print the partition each document id (Kafka key) maps to",
    .synopsis = "<doc-id>...",
    .opts = partition_opts,
    .nopts = QUIRE_NOPTS(partition_opts),
    .conf_size = sizeof(partition_conf_t),
    .run = partition_run,
};
