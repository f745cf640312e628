//  work.c -- WORK decoded; see work.h.
#include "agent/work.h"

static uint32_t
s_clamp (uint64_t value, uint32_t min, uint32_t max)
{
    return value < min? min: value > max? max: (uint32_t) value;
}

void
work_decode (work_t *work, msg_t *msg)
{
    *work = (work_t) {
        .job = msg_str (msg, MSG_F_JOB),
        .handler = msg_str (msg, MSG_F_HANDLER),
        .sink = msg_str (msg, MSG_F_SINK),
        .sink_key = msg_has (msg, MSG_F_SINK_KEY)? msg_str (msg, MSG_F_SINK_KEY): NULL,
        .max_attempts = WORK_MAX_ATTEMPTS_DEFAULT,
        .timeout_ms = WORK_TIMEOUT_MS_DEFAULT,
        .dead_letter = msg_has (msg, MSG_F_DEAD_LETTER)? msg_str (msg, MSG_F_DEAD_LETTER): NULL,
        .stored_as = 1,
        .msg = msg };
    //  `status` names what `excluded` alone said, and more (PROTOCOL.md 12).
    if (work->dead_letter && msg_bool (msg, MSG_F_EXCLUDED))
        work->stored_as = 2;
    if (work->dead_letter && msg_has (msg, MSG_F_STATUS)) {
        uint64_t status = msg_uint (msg, MSG_F_STATUS);
        work->stored_as = status >= 1 && status <= 5? (uint8_t) status: work->stored_as;
    }
    work->options = msg_raw (msg, MSG_F_OPTIONS, &work->options_size);
    if (!work->options)
        work->options_size = 0;
    if (msg_has (msg, MSG_F_MAX_ATTEMPTS))
        work->max_attempts = s_clamp (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 1, UINT32_MAX);
    if (msg_has (msg, MSG_F_TIMEOUT_MS))
        work->timeout_ms = s_clamp (msg_uint (msg, MSG_F_TIMEOUT_MS), 0, UINT32_MAX);
    work->lease_ms = s_clamp (msg_uint (msg, MSG_F_LEASE_MS), 0, WORK_LEASE_MS_MAX);
    work->refs = msg_refs (msg, MSG_F_TUPLES, &work->count);
}
