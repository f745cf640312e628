//  test_result.c -- unit tests of RESULT batch decoding (sink/result.c):
//  good batches, dead letters, and each way a batch can be malformed, with
//  the error code PROTOCOL.md 4.3 and the sink promise for it.
#include <criterion/criterion.h>

#include "sink/result.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer  packer;
} batch_t;

static void
s_begin (batch_t *batch, uint32_t records)
{
    msgpack_sbuffer_init (&batch->buffer);
    msgpack_packer_init (&batch->packer, &batch->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&batch->packer, records);
}

static void
s_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

//  A full record; skip names one key to leave out ("" for none).
static void
s_record (batch_t *batch, uint64_t tuple, uint64_t attempt, const char *status,
          const char *skip)
{
    msgpack_packer *pk = &batch->packer;
    const char *keys[] = { "tuple", "attempt", "status", "started_us", "duration_us",
                           "input", "output", "error", "future_key" };
    int present = 0;
    for (int i = 0; i < 9; i++)
        present += strcmp (keys[i], skip) != 0;
    msgpack_pack_map (pk, (size_t) present);
    for (int i = 0; i < 9; i++) {
        if (!strcmp (keys[i], skip))
            continue;
        s_str (pk, keys[i]);
        switch (i) {
            case 0: msgpack_pack_uint64 (pk, tuple); break;
            case 1: msgpack_pack_uint64 (pk, attempt); break;
            case 2: s_str (pk, status); break;
            case 3: msgpack_pack_uint64 (pk, 1700000000000000ULL); break;
            case 4: msgpack_pack_uint64 (pk, 42); break;
            case 5: msgpack_pack_array (pk, 2); s_str (pk, "echo");
                    msgpack_pack_uint64 (pk, tuple); break;
            case 6: s_str (pk, "hello"); break;
            case 7: s_str (pk, "boom"); break;
            default: msgpack_pack_true (pk); break;
        }
    }
}

static result_t *result;
//  Records point into the bytes decoded, so the last batch is kept.
static msgpack_sbuffer decoded;

//  result_decode in version of data against refs, as the runs a header
//  carries them (msg_set_refs's).
static int
s_decode_bytes (result_t *result, const void *data, size_t size, int version,
                const msg_ref_t *refs, size_t count)
{
    //  Records are read against the runs: kept until the next decode.
    static msg_run_t runs[16];
    cr_assert_leq (count, 16);
    size_t made = 0;
    for (size_t i = 0; i < count; i++)
        runs_append (runs, &made, refs[i].id, refs[i].attempt);
    return result_decode (result, data, size, version, runs, made);
}

static int
s_decode (result_t *result, batch_t *batch, const msg_ref_t *refs, size_t count)
{
    msgpack_sbuffer_destroy (&decoded);
    decoded = batch->buffer;
    return s_decode_bytes (result, decoded.data, decoded.size, 1, refs, count);
}

//  Record index of the batch decoded last (result_next from the start),
//  or NULL past the last.
static const result_record_t *
s_record_at (size_t index)
{
    static result_record_t record;
    result_rewind (result);
    for (size_t i = 0; i <= index; i++)
        if (!result_next (result, &record))
            return NULL;
    return &record;
}

static void
setup (void)
{
    msgpack_sbuffer_init (&decoded);
    result = result_new ();
    cr_assert_not_null (result);
}

static void
teardown (void)
{
    result_destroy (&result);
    cr_expect_null (result);
    msgpack_sbuffer_destroy (&decoded);
}

TestSuite (result, .init = setup, .fini = teardown);

Test (result, three_good_records)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 7, 3 } };
    batch_t batch;
    s_begin (&batch, 3);
    s_record (&batch, 1, 1, "ok", "");
    s_record (&batch, 2, 1, "ok", "input");
    s_record (&batch, 7, 3, "failed", "output");
    cr_assert_eq (s_decode (result, &batch, refs, 3), 0, "%s", result_reason (result));
    cr_assert_eq (result_count (result), 3);
    const result_record_t *r = s_record_at (0);
    cr_expect_eq (r->tuple, 1);
    cr_expect_eq (r->attempt, 1);
    cr_expect_eq (r->status, RESULT_OK);
    cr_expect_eq (r->started_us, 1700000000000000ULL);
    cr_expect_eq (r->duration_us, 42);
    cr_expect_eq (r->input.size, 7, "[\"echo\", 1]");
    cr_expect_eq (r->input.data[0], 0x92);
    cr_expect_eq (r->output.size, 6);
    cr_expect_eq (memcmp (r->output.data, "\xa5hello", 6), 0);
    cr_expect_eq (s_record_at (1)->input.size, 0, "absent input is empty");
    r = s_record_at (2);
    cr_expect_eq (r->tuple, 7);
    cr_expect_eq (r->attempt, 3);
    cr_expect_eq (r->status, RESULT_FAILED, "status failed");
    cr_expect_eq (r->output.size, 0);
    cr_assert_eq (r->error.size, 5);
    cr_expect_eq (memcmp (r->error.data, "\xa4" "boom", 5), 0);
    cr_expect_null (s_record_at (3));
}

Test (result, empty_batch)
{
    batch_t batch;
    s_begin (&batch, 0);
    cr_expect_eq (s_decode (result, &batch, NULL, 0), 0);
    cr_expect_eq (result_count (result), 0);
}

static void
s_expect_raw (const char *data, size_t size, size_t refs_count, int code)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    int rc = s_decode_bytes (result, data, size, 1, refs, refs_count);
    cr_expect_eq (rc, -code, "got %d, want %d", rc, -code);
    cr_expect_eq (result_count (result), 0);
    cr_expect_neq (result_reason (result)[0], 0, "a reason is given");
}

Test (result, not_msgpack)
{
    s_expect_raw ("\xc1", 1, 1, DRV_E_BAD_HEADER);      //  never-used byte
    s_expect_raw ("\x91", 1, 1, DRV_E_BAD_HEADER);      //  truncated
    s_expect_raw ("", 0, 0, DRV_E_BAD_HEADER);          //  empty frame
    s_expect_raw ("\x90\x90", 2, 0, DRV_E_BAD_HEADER);  //  trailing bytes
}

Test (result, not_an_array)
{
    s_expect_raw ("\x80", 1, 0, DRV_E_BAD_HEADER);      //  a map
    s_expect_raw ("\x01", 1, 0, DRV_E_BAD_HEADER);      //  an int
    s_expect_raw ("\x91\x01", 2, 1, DRV_E_BAD_HEADER);  //  record not a map
}

Test (result, huge_declared_sizes_are_refused_without_allocating)
{
    //  Array, map, str and bin headers declaring ~4 G entries in a few bytes.
    s_expect_raw ("\xdd\xff\xff\xff\xff", 5, 2, DRV_E_BAD_HEADER);
    s_expect_raw ("\x91\xdf\xff\xff\xff\xff", 6, 1, DRV_E_BAD_HEADER);
    s_expect_raw ("\x91\xdb\xff\xff\xff\xff", 6, 1, DRV_E_BAD_HEADER);
    s_expect_raw ("\x91\xc6\xff\xff\xff\xff", 6, 1, DRV_E_BAD_HEADER);
    s_expect_raw ("\x91\xc9\xff\xff\xff\xff\x01", 7, 1, DRV_E_BAD_HEADER);
}

Test (result, count_mismatch)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    batch_t batch;
    s_begin (&batch, 2);
    s_record (&batch, 1, 1, "ok", "");
    s_record (&batch, 2, 1, "ok", "");
    cr_expect_eq (s_decode (result, &batch, refs, 3), -DRV_E_BAD_HEADER);
    cr_expect (strstr (result_reason (result), "2 records for 3 tuples"), "%s",
               result_reason (result));
}

Test (result, id_or_attempt_mismatch)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    batch_t batch;
    s_begin (&batch, 2);
    s_record (&batch, 1, 1, "ok", "");
    s_record (&batch, 3, 1, "ok", "");
    cr_expect_eq (s_decode (result, &batch, refs, 2), -DRV_E_BAD_HEADER);
    s_begin (&batch, 2);
    s_record (&batch, 1, 1, "ok", "");
    s_record (&batch, 2, 2, "ok", "");
    cr_expect_eq (s_decode (result, &batch, refs, 2), -DRV_E_BAD_HEADER);
    cr_expect (strstr (result_reason (result), "record 1"), "%s", result_reason (result));
}

Test (result, missing_required_keys)
{
    const char *required[] = { "tuple", "attempt", "status", "started_us", "duration_us" };
    msg_ref_t refs[] = { { 1, 1 } };
    for (int i = 0; i < 5; i++) {
        batch_t batch;
        s_begin (&batch, 1);
        s_record (&batch, 1, 1, "ok", required[i]);
        cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_MISSING_FIELD,
                      "without %s", required[i]);
        cr_expect (strstr (result_reason (result), required[i]), "%s",
                   result_reason (result));
    }
}

Test (result, wrong_types)
{
    msg_ref_t refs[] = { { 1, 1 } };
    batch_t batch;
    //  tuple as a string
    s_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 5);
    s_str (&batch.packer, "tuple");       s_str (&batch.packer, "1");
    s_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "status");      s_str (&batch.packer, "ok");
    s_str (&batch.packer, "started_us");  msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_BAD_TYPE);
    //  negative duration
    s_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 5);
    s_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "status");      s_str (&batch.packer, "ok");
    s_str (&batch.packer, "started_us");  msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "duration_us"); msgpack_pack_int64 (&batch.packer, -5);
    cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_BAD_TYPE);
    //  error not a string
    s_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 6);
    s_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "status");      s_str (&batch.packer, "failed");
    s_str (&batch.packer, "started_us");  msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    s_str (&batch.packer, "error");       msgpack_pack_uint64 (&batch.packer, 9);
    cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_BAD_TYPE);
    //  unknown status
    s_begin (&batch, 1);
    s_record (&batch, 1, 1, "okay", "");
    cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_BAD_TYPE);
    //  a key that is not a string
    s_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 1);
    msgpack_pack_uint64 (&batch.packer, 1);
    msgpack_pack_uint64 (&batch.packer, 1);
    cr_expect_eq (s_decode (result, &batch, refs, 1), -DRV_E_BAD_HEADER);
}

Test (result, reused_after_an_error)
{
    msg_ref_t refs[] = { { 4, 1 } };
    s_expect_raw ("\xc1", 1, 1, DRV_E_BAD_HEADER);
    batch_t batch;
    s_begin (&batch, 1);
    s_record (&batch, 4, 1, "ok", "");
    cr_expect_eq (s_decode (result, &batch, refs, 1), 0);
    cr_expect_eq (result_count (result), 1);
    cr_expect_eq (s_record_at (0)->tuple, 4);
}

//  The records are kept from the check: a batch that fails it, even on its
//  last record, leaves none of its own nor the last good batch's to read.
Test (result, an_error_after_a_good_batch_leaves_no_records)
{
    msg_ref_t refs[] = { { 4, 1 }, { 5, 1 } };
    batch_t batch;
    s_begin (&batch, 2);
    s_record (&batch, 4, 1, "ok", "");
    s_record (&batch, 5, 1, "ok", "");
    cr_assert_eq (s_decode (result, &batch, refs, 2), 0, "%s", result_reason (result));
    cr_assert_eq (s_record_at (1)->tuple, 5);
    s_begin (&batch, 2);
    s_record (&batch, 4, 1, "ok", "");
    s_record (&batch, 5, 1, "ok", "status");
    cr_expect_eq (s_decode (result, &batch, refs, 2), -DRV_E_MISSING_FIELD);
    cr_expect_eq (result_count (result), 0);
    result_record_t record;
    result_rewind (result);
    cr_expect_not (result_next (result, &record));
}

//  The records' array grows as they are read, past its first 64, and is
//  reused by a smaller batch and grown again by a bigger one.
Test (result, batches_past_the_first_records_grow_the_array)
{
    size_t sizes[] = { 200, 3, 700 };
    for (size_t k = 0; k < 3; k++) {
        batch_t batch;
        s_begin (&batch, (uint32_t) sizes[k]);
        for (size_t i = 0; i < sizes[k]; i++)
            s_record (&batch, 1000 + i, 2, i % 2? "failed": "ok", "");
        msgpack_sbuffer_destroy (&decoded);
        decoded = batch.buffer;
        msg_run_t run = { 1000, (uint32_t) sizes[k], 2 };
        cr_assert_eq (result_decode (result, decoded.data, decoded.size, 1, &run, 1), 0,
                      "%s", result_reason (result));
        cr_assert_eq (result_count (result), sizes[k]);
        result_record_t record;
        size_t read = 0;
        while (result_next (result, &record)) {
            cr_expect_eq (record.tuple, 1000 + read);
            cr_expect_eq (record.status, read % 2? RESULT_FAILED: RESULT_OK);
            read++;
        }
        cr_expect_eq (read, sizes[k]);
    }
}
