/*
 * compactor_policy — see the header for the rules and the bounds they give.
 */
#include "compactor_policy.h"

int64_t compactor_policy_threshold(const compactor_policy_t *p, int64_t state_bytes)
{
    double t = p->fraction * (double)(state_bytes > 0 ? state_bytes : 0);
    int64_t ti = t >= 9.0e18 ? INT64_MAX : (int64_t)t;
    return ti > p->min_bytes ? ti : p->min_bytes;
}

compactor_reason_t compactor_policy_decide(const compactor_policy_t *p,
                                           const compactor_doc_stats_t *s, int64_t now_ms,
                                           int64_t *ret_next_check_ms)
{
    int64_t next = INT64_MAX;
    compactor_reason_t r = COMPACTOR_NOT_YET;
    if (s->events_since <= 0) {
        /* nothing since the last snapshot */
    } else if (s->bytes_since >= compactor_policy_threshold(p, s->state_bytes)) {
        r = COMPACTOR_BYTES;
    } else {
        bool within_budget = !s->has_snapshot || (double)(s->snapshot_bytes + s->state_bytes) <=
                                                     p->max_amplification * (double)s->event_bytes;
        int64_t quiet_at = s->last_event_ms + p->quiet_ms;
        int64_t age_at =
            p->max_pending_ms > 0 ? s->first_pending_ms + p->max_pending_ms : INT64_MAX;
        if (within_budget && now_ms >= quiet_at)
            r = COMPACTOR_QUIET;
        else if (now_ms >= age_at)
            r = COMPACTOR_AGE;
        else {
            if (within_budget)
                next = quiet_at;
            if (age_at < next)
                next = age_at;
        }
    }
    if (ret_next_check_ms)
        *ret_next_check_ms = r ? now_ms : next;
    return r;
}

const char *compactor_reason_str(compactor_reason_t r)
{
    switch (r) {
    case COMPACTOR_BYTES:
        return "bytes";
    case COMPACTOR_QUIET:
        return "quiet";
    case COMPACTOR_AGE:
        return "age";
    default:
        return "not yet";
    }
}
