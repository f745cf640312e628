//  frames.h -- how a fuzz input becomes a ZeroMQ multipart message, shared
//  by the fuzz targets and by make_corpus, which writes the seeds this way.
//
//  Framing: the input is split at every occurrence of the 4-byte separator
//  c1 46 52 4d ("\xc1" "FRM"); N separators make N+1 frames, so adjacent
//  separators give an empty frame and an input without one is one frame.
//  A separator is robust to libFuzzer's byte insertions and deletions, which
//  would break length prefixes; 0xc1 is the one byte msgpack never uses, so
//  the separator can only clash with the inside of a string, bin or number,
//  and make_corpus refuses to write a seed whose frames contain it.
#ifndef DROVER_FUZZ_FRAMES_H
#define DROVER_FUZZ_FRAMES_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEPARATOR       "\xc1" "FRM"
#define FUZZ_SEPARATOR_SIZE  4

//  A broken property in a harness is a finding: abort so that libFuzzer
//  saves the input.  Not assert (), which NDEBUG would compile out.
#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

//  Append the frames of data[0..size) to zmsg.
static inline void
fuzz_frames_append (zmsg_t *zmsg, const uint8_t *data, size_t size)
{
    while (true) {
        const uint8_t *sep = size? memmem (data, size, FUZZ_SEPARATOR, FUZZ_SEPARATOR_SIZE): NULL;
        size_t len = sep? (size_t) (sep - data): size;
        FUZZ_CHECK (zmsg_addmem (zmsg, data, len) == 0);
        if (!sep)
            return;
        data += len + FUZZ_SEPARATOR_SIZE;
        size -= len + FUZZ_SEPARATOR_SIZE;
    }
}

//  Write zmsg's frames joined by the separator; false if a frame holds the
//  separator (it could not be read back as the same frames) or on I/O error.
static inline bool
fuzz_frames_write (FILE *file, zmsg_t *zmsg)
{
    bool first = true;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg)) {
        size_t size = zframe_size (frame);
        if (size && memmem (zframe_data (frame), size, FUZZ_SEPARATOR, FUZZ_SEPARATOR_SIZE))
            return false;
        if (!first && fwrite (FUZZ_SEPARATOR, 1, FUZZ_SEPARATOR_SIZE, file) != FUZZ_SEPARATOR_SIZE)
            return false;
        if (size && fwrite (zframe_data (frame), 1, size, file) != size)
            return false;
        first = false;
    }
    return true;
}

#endif
