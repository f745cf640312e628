//  fuzz_result.c -- libFuzzer target for the sink's RESULT path: the input
//  is a RESULT message without its first two frames (frames.h framing):
//  frame 0 the header, frame 1 the batch.  The target adds "DRV1" and
//  "RESULT", then "DRV2" and "RESULT" (a version 1 header has refs and map
//  records, a version 2 one runs and positional records: each input is
//  tried both ways), decodes the message as the sink does (wire_decode,
//  then result_decode's walk of the batch against the header's tuples),
//  and renders the records from their bytes (result_next, then
//  sink/output.c's json_write_msgpack) into a memory file.
//
//  Checked beyond "no crash, no leak": every value is written as JSON from
//  its bytes exactly as json_write writes it unpacked by msgpack-c; a rejected batch has a reason and no
//  records; an accepted one has one record per tuple, matching it; every
//  record can be written, and each line the sink writes is strict JSON.
#include "sink/output.h"
#include "sink/result.h"
#include "proto/wire.h"
#include "common/json_read.h"
#include "common/json_write.h"

#include "fuzz/frames.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

//  Made once, reused input after input as the sink reuses them.
static result_t *s_result;
static output_t *s_output;
static int s_memfd = -1;            //  the file s_output appends to
static char *s_lines;               //  what was read back from it
static size_t s_lines_cap;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_result = result_new ();
    s_memfd = memfd_create ("fuzz_result", MFD_CLOEXEC);
    FUZZ_CHECK (s_result && s_memfd >= 0);
    char path[64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", s_memfd);
    s_output = output_new (path, false);
    FUZZ_CHECK (s_output);
    return 0;
}

//  Read back what the output wrote, then empty the file for the next input.
static size_t
s_read_lines (void)
{
    struct stat st;
    FUZZ_CHECK (fstat (s_memfd, &st) == 0);
    size_t size = (size_t) st.st_size;
    if (size + 1 > s_lines_cap) {
        s_lines_cap = size + 1;
        s_lines = realloc (s_lines, s_lines_cap);
        FUZZ_CHECK (s_lines);
    }
    FUZZ_CHECK (pread (s_memfd, s_lines, size, 0) == (ssize_t) size);
    s_lines[size] = 0;
    FUZZ_CHECK (ftruncate (s_memfd, 0) == 0);
    return size;
}

//  Every line strict JSON; returns the number of lines.
static size_t
s_check_lines (const char *text, size_t size)
{
    size_t lines = 0;
    msgpack_sbuffer parsed;
    msgpack_sbuffer_init (&parsed);
    while (size > 0) {
        const char *end = memchr (text, '\n', size);
        FUZZ_CHECK (end);               //  every line ends with a newline
        size_t len = (size_t) (end - text);
        char err[128];
        parsed.size = 0;
        if (json_to_msgpack (text, len, &parsed, err, sizeof err)) {
            fprintf (stderr, "sink wrote a line that is not JSON: %s\n%.*s\n",
                     err, (int) (len < 2000? len: 2000), text);
            FUZZ_CHECK (false);
        }
        lines++;
        size -= len + 1;
        text = end + 1;
    }
    msgpack_sbuffer_destroy (&parsed);
    return lines;
}

static void
s_store (const char *job, const char *agent, size_t count)
{
    FUZZ_CHECK (output_begin (s_output, job, agent) == 0);
    result_rewind (s_result);
    result_record_t record;
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK (result_next (s_result, &record));
        int rc = output_add (s_output, &record);
        if (rc)
            fprintf (stderr, "output_add of record %zu: %s\n", i, strerror (-rc));
        FUZZ_CHECK (rc == 0);
    }
    FUZZ_CHECK (!result_next (s_result, &record));
    FUZZ_CHECK (output_commit (s_output) == 0);
    size_t size = s_read_lines ();
    FUZZ_CHECK (s_check_lines (s_lines, size) == count);
}

//  A value written from its bytes (json_write_msgpack, the sink's way) and
//  unpacked by msgpack-c (json_write): the same text.
static void
s_same_json (result_value_t value)
{
    if (!value.size)
        return;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    FUZZ_CHECK (msgpack_unpack_next (&unpacked, (const char *) value.data, value.size,
                                     &offset) == MSGPACK_UNPACK_SUCCESS);
    FUZZ_CHECK (offset == value.size);
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    FUZZ_CHECK (stream);
    int rc = json_write (stream, &unpacked.data);
    FUZZ_CHECK (fclose (stream) == 0);
    json_buffer_t buffer = { 0 };
    size_t used = 0;
    //  Both refuse the same values (keys nested in keys too deep).
    FUZZ_CHECK (json_write_msgpack (&buffer, value.data, value.size, &used) == rc);
    if (rc) {
        json_buffer_free (&buffer);
        free (text);
        msgpack_unpacked_destroy (&unpacked);
        return;
    }
    FUZZ_CHECK (used == value.size);
    if (buffer.size != size || memcmp (buffer.data, text, size))
        fprintf (stderr, "from bytes: %.*s\nfrom object: %s\n", (int) buffer.size,
                 buffer.data, text);
    FUZZ_CHECK (buffer.size == size && !memcmp (buffer.data, text, size));
    json_buffer_free (&buffer);
    free (text);
    msgpack_unpacked_destroy (&unpacked);
}

//  The input as a RESULT in version.
static void
s_check_version (const uint8_t *data, size_t size, int version)
{
    zmsg_t *zmsg = zmsg_new ();
    FUZZ_CHECK (zmsg);
    FUZZ_CHECK (zmsg_addstr (zmsg, version == 1? "DRV1": "DRV2") == 0);
    FUZZ_CHECK (zmsg_addstr (zmsg, "RESULT") == 0);
    fuzz_frames_append (zmsg, data, size);
    msg_t *msg = NULL;
    if (wire_decode (&zmsg, &msg))
        return;                         //  fuzz_msg's business
    FUZZ_CHECK (msg_command (msg) == MSG_RESULT && msg_payload_count (msg) == 1);
    FUZZ_CHECK (msg_version (msg) == version);

    size_t runs_count = 0, count = 0;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &runs_count);
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    FUZZ_CHECK (count == msg_runs_total (msg, MSG_F_TUPLES));
    zframe_t *batch = msg_payload (msg, 0);
    int rc = result_decode (s_result, zframe_data (batch), zframe_size (batch), version,
                            runs, runs_count);
    if (rc) {
        FUZZ_CHECK (rc < 0 && rc > -DRV_E_MAX);
        //  Nothing a peer sends is the sink's fault: never "out of memory"
        //  for a batch that fits in a fuzz input (a nesting too deep for
        //  msgpack-c once was).
        if (rc == -DRV_E_INTERNAL)
            fprintf (stderr, "INTERNAL: %s\n", result_reason (s_result));
        FUZZ_CHECK (rc != -DRV_E_INTERNAL);
        FUZZ_CHECK (result_reason (s_result)[0] != 0);
        result_record_t none;
        FUZZ_CHECK (result_count (s_result) == 0 && !result_next (s_result, &none));
        msg_destroy (&msg);
        return;
    }
    FUZZ_CHECK (result_count (s_result) == count);
    result_record_t record;
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK (result_next (s_result, &record));
        FUZZ_CHECK (record.tuple == refs[i].id && record.attempt == refs[i].attempt);
        FUZZ_CHECK (result_status_name (record.status));
        //  error is a str: fixstr or str 8/16/32.
        FUZZ_CHECK (!record.error.size || (record.error.data[0] & 0xe0) == 0xa0
                    || (record.error.data[0] >= 0xd9 && record.error.data[0] <= 0xdb));
        FUZZ_CHECK (!record.problem || (record.status == RESULT_FAILED
                    && !record.input.size && !record.output.size));
        s_same_json (record.input);
        s_same_json (record.output);
        s_same_json (record.error);
    }
    FUZZ_CHECK (!result_next (s_result, &record));
    s_store (msg_str (msg, MSG_F_JOB), msg_str (msg, MSG_F_AGENT), count);
    msg_destroy (&msg);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_check_version (data, size, 1);
    s_check_version (data, size, 2);
    return 0;
}
