//  test_prio_check.c -- the SUBMIT side of broker/prio.h: the `priority`
//  and `not_before` options and `per_tuple` (PROTOCOL.md 13.3) checked
//  against their rules, and per_tuple expanded to a value per tuple.
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "broker/prio.h"

#define NOW 1796280000000ULL

//  A SUBMIT of count tuples with the options and per_tuple given as JSON-ish
//  builders: options {"priority": p} (p < 0: none) and per_tuple runs.
typedef struct {
    const char *key;
    uint64_t run[3];
} run_t;

static msg_t *
s_submit (size_t count, int priority, const run_t *runs, size_t run_count)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, "j");
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (msg_add_tuple (msg, "\x91\x01", 2), 0);
    if (priority >= 0) {
        unsigned char options[] = { 0x81, 0xa8, 'p', 'r', 'i', 'o', 'r', 'i', 't', 'y',
                                    0xcc, (unsigned char) priority };
        msg_set_raw (msg, MSG_F_OPTIONS, options, sizeof options);
    }
    if (!runs)
        return msg;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    //  One key per run, in order (tests give each key once).
    msgpack_pack_map (&pk, run_count);
    for (size_t i = 0; i < run_count; i++) {
        msgpack_pack_str_with_body (&pk, runs[i].key, strlen (runs[i].key));
        msgpack_pack_array (&pk, 1);
        msgpack_pack_array (&pk, 3);
        for (int k = 0; k < 3; k++)
            msgpack_pack_uint64 (&pk, runs[i].run[k]);
    }
    msg_set_raw (msg, MSG_F_PER_TUPLE, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    return msg;
}

static int
s_check (msg_t *msg, char *reason)
{
    int rc = prio_check (msg, NOW, reason, 256);
    msg_destroy (&msg);
    return rc;
}

Test (prio_check, options_in_range)
{
    char reason[256] = "";
    cr_expect_eq (s_check (s_submit (1, 0, NULL, 0), reason), 0);
    cr_expect_eq (s_check (s_submit (1, 9, NULL, 0), reason), 0);
    cr_expect_eq (s_check (s_submit (1, 10, NULL, 0), reason), -DRV_E_BAD_TYPE);
    cr_expect (strstr (reason, "option priority must be 0 to 9"), "%s", reason);
}

Test (prio_check, per_tuple_rules)
{
    char reason[256] = "";
    run_t good[] = { { "priority", { 1, 3, 9 } }, { "not_before", { 2, 2, NOW + 1000 } } };
    cr_expect_eq (s_check (s_submit (4, -1, good, 2), reason), 0, "%s", reason);
    struct {
        run_t run;
        const char *reason;
    } bad[] = {
        { { "priority", { 0, 1, 1 } }, "names tuples 0" },
        { { "priority", { 4, 2, 1 } }, "not 1 to 4" },
        { { "priority", { 1, 0, 1 } }, "not 1 to 4" },
        { { "priority", { 1, 1, 10 } }, "priority must be 0 to 9" },
        { { "not_before", { 1, 1, NOW + 367ULL * 86400000 } }, "366 days" },
        { { "after", { 1, 1, 1 } }, "`priority` and `not_before` only" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq (s_check (s_submit (4, -1, &bad[i].run, 1), reason), -DRV_E_BAD_TYPE,
                      "case %zu", i);
        cr_expect (strstr (reason, bad[i].reason), "case %zu: %s", i, reason);
    }
}

Test (prio_check, tuples_get_their_own_or_their_jobs)
{
    run_t runs[] = { { "priority", { 2, 2, 9 } }, { "not_before", { 4, 1, NOW + 5000 } } };
    msg_t *msg = s_submit (5, 3, runs, 2);
    job_t *job = job_new ("j", "echo", "s");
    size_t options_size;
    const void *options = msg_raw (msg, MSG_F_OPTIONS, &options_size);
    cr_assert_eq (job_set_options (job, options, options_size), 0);
    bool failed = true;
    prio_tuples_t *tuned = prio_tuples_new (msg, &failed);
    cr_assert_not_null (tuned);
    cr_assert_not (failed);
    uint32_t want_level[] = { 3, 9, 9, 3, 3 };
    uint64_t want_at[] = { 0, 0, 0, NOW + 5000, 0 };
    for (size_t i = 0; i < 5; i++) {
        uint32_t level;
        uint64_t at;
        prio_tuples_get (tuned, job, i, &level, &at);
        cr_expect_eq (level, want_level[i], "tuple %zu", i + 1);
        cr_expect_eq (at, want_at[i], "tuple %zu", i + 1);
        cr_expect_eq (prio_tuned (job, level, at, NOW), i >= 1 && i <= 3, "tuple %zu", i + 1);
    }
    prio_tuples_destroy (&tuned);
    cr_assert_null (tuned);
    job_destroy (&job);
    msg_destroy (&msg);
}
