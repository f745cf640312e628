//  fuzz_json.c -- libFuzzer target for common/json_read.c and json_write.c: the input is JSON text
//  as `drover submit` reads it (one line of JSON Lines, or anything else).
//  json_to_msgpack parses it; what it accepts is written back with
//  json_write into a memory stream.
//
//  Properties checked beyond "no crash, no leak": a failure leaves the
//  output buffer as it was and says why; a success appends exactly one
//  msgpack value that msgpack-c unpacks whole; json_write writes it as one
//  line; and that line parses back to the very same msgpack bytes.
#include "common/json_read.h"
#include "common/json_write.h"

#include "fuzz/frames.h"

#define MARK 0x42           //  a byte already in the buffer, to stay there

//  Parse text into out after the mark byte; the json_to_msgpack result.
static int
s_parse (const char *text, size_t len, msgpack_sbuffer *out, char *err, size_t errlen)
{
    msgpack_sbuffer_init (out);
    char mark = MARK;
    FUZZ_CHECK (msgpack_sbuffer_write (out, &mark, 1) == 0);
    int rc = json_to_msgpack (text, len, out, err, errlen);
    FUZZ_CHECK (rc == 0 || rc == -1);
    FUZZ_CHECK (out->size >= 1 && out->data[0] == MARK);
    if (rc)
        FUZZ_CHECK (out->size == 1);
    return rc;
}

//  A rejected input: the error text must be there, and the parser must
//  reject it the same way with a tiny error buffer or none.
static void
s_rejected (const char *text, size_t len, const char *err)
{
    FUZZ_CHECK (err[0] != 0);
    FUZZ_CHECK (strncmp (err, "line ", 5) == 0);
    msgpack_sbuffer out;
    char tiny[12];
    memset (tiny, 'x', sizeof tiny);
    FUZZ_CHECK (s_parse (text, len, &out, tiny, sizeof tiny) == -1);
    FUZZ_CHECK (memchr (tiny, 0, sizeof tiny));
    msgpack_sbuffer_destroy (&out);
    FUZZ_CHECK (s_parse (text, len, &out, NULL, 0) == -1);
    msgpack_sbuffer_destroy (&out);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    char err[128] = "";
    msgpack_sbuffer first;
    if (s_parse (text, size, &first, err, sizeof err)) {
        msgpack_sbuffer_destroy (&first);
        s_rejected (text, size, err);
        return 0;
    }
    FUZZ_CHECK (first.size > 1);

    //  Exactly one value, all of it: what the agent will unpack.
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    msgpack_unpack_return urc = msgpack_unpack_next (&unpacked, first.data + 1,
                                                     first.size - 1, &offset);
    FUZZ_CHECK (urc == MSGPACK_UNPACK_SUCCESS);
    FUZZ_CHECK (offset == first.size - 1);

    char *line = NULL;
    size_t line_size = 0;
    FILE *stream = open_memstream (&line, &line_size);
    FUZZ_CHECK (stream);
    FUZZ_CHECK (json_write (stream, &unpacked.data) == 0);
    FUZZ_CHECK (fclose (stream) == 0);
    FUZZ_CHECK (line_size > 0 && !memchr (line, '\n', line_size));

    msgpack_sbuffer second;
    if (s_parse (line, line_size, &second, err, sizeof err))
        fprintf (stderr, "json_write wrote what json_to_msgpack rejects: %s\n%.*s\n",
                 err, (int) (line_size < 2000? line_size: 2000), line);
    FUZZ_CHECK (second.size > 1);
    FUZZ_CHECK (second.size == first.size && !memcmp (second.data, first.data, first.size));

    msgpack_sbuffer_destroy (&second);
    free (line);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&first);
    return 0;
}
