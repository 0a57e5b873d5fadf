/* quarantine — see the header: the rule depends on the message bytes and the partition only. */
#include "quarantine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire_kafka.h"

struct quarantine_checker_s {
    event_codec_t *codec;
    yjs_validation_t v;
};

quarantine_checker_t *quarantine_checker_new(char *errbuf, size_t errlen)
{
    quarantine_checker_t *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (event_codec_new(NULL, &q->codec, errbuf, errlen) != QUIRE_OK) {
        free(q);
        return NULL;
    }
    return q;
}

void quarantine_checker_destroy(quarantine_checker_t *q)
{
    if (!q)
        return;
    event_codec_destroy(q->codec);
    yjs_validation_deinit(&q->v);
    free(q);
}

quire_err_t quarantine_check(quarantine_checker_t *q, const void *key, size_t key_len,
                             int32_t partition, int32_t partition_count, const void *value,
                             size_t value_len, event_codec_event_t *ret_event, char *reason,
                             size_t reason_len)
{
    event_codec_event_t ev;
    quire_err_t err = event_codec_decode(q->codec, value, value_len, &ev);
    if (err == QUIRE_ERR_NOMEM)
        return err;
    if (err) {
        snprintf(reason, reason_len, "undecodable event (%s): %s", quire_err_name(err),
                 event_codec_last_error(q->codec));
        return QUIRE_ERR_MALFORMED;
    }
    if (!key || key_len != ev.doc_id_len || memcmp(key, ev.doc_id, key_len) != 0) {
        snprintf(reason, reason_len, "message key is not the document id");
        return QUIRE_ERR_MALFORMED;
    }
    if (quire_kafka_partition_for(ev.doc_id, ev.doc_id_len, partition_count) != partition) {
        snprintf(reason, reason_len, "event in partition %d, its document lives in %d", partition,
                 quire_kafka_partition_for(ev.doc_id, ev.doc_id_len, partition_count));
        return QUIRE_ERR_MALFORMED;
    }
    if (ev.kind == EVENT_CODEC_KIND_UPDATE) {
        err = yjs_update_validate(ev.update, ev.update_len, NULL, 0, &q->v);
        if (err == QUIRE_ERR_NOMEM)
            return err;
        if (err) {
            snprintf(reason, reason_len, "yjs update refused (%s): %s", quire_err_name(err),
                     q->v.error.message);
            return QUIRE_ERR_MALFORMED;
        }
    }
    *ret_event = ev;
    return QUIRE_OK;
}
