//  corpus.h -- what make_corpus.c lends make_corpus_hostile.c: writing a
//  seed into the corpus directory given on the command line, and packing
//  msgpack.
#ifndef DROVER_FUZZ_CORPUS_H
#define DROVER_FUZZ_CORPUS_H

#include <czmq.h>
#include <msgpack.h>

#include "proto/msg.h"

//  msg_new, in protocol version 1: the seeds' versions are chosen, not the
//  default's.
msg_t    *corpus_msg_new (msg_command_t command);

//  msgpack-c's packer over a growing buffer.
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} pack_t;

void      corpus_pack_init (pack_t *p);
//  What was packed, as a frame; the buffer is freed.
zframe_t *corpus_pack_frame (pack_t *p);
void      corpus_str (msgpack_packer *pk, const char *text);

//  Write zmsg's frames (taken) as seed name of target (frames.h framing).
void corpus_frames (const char *target, const char *name, zmsg_t *zmsg);
//  Write size bytes as they are as seed name of target.
void corpus_bytes (const char *target, const char *name, const void *data, size_t size);
//  The seeds of make_corpus_hostile.c.
void corpus_hostile (void);

#endif
