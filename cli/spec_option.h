//  spec_option.h -- `drover submit`'s spec flags (--targets, --ports,
//  --exclude, their files) as the SUBMIT's `spec` map (PROTOCOL.md 10):
//  checked here first with spec/spec.h, so a typo is reported with its
//  file and line before anything is sent, and files read here (the broker
//  never reads a file a producer names) and sent as text.
#ifndef DROVER_CLI_SPEC_OPTION_H
#define DROVER_CLI_SPEC_OPTION_H

#include "spec/spec.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

//  The map into buf (initialised by the caller), and the spec's tuples in
//  *count_p.  0, or -1 with the reason in err.
int spec_option_map (const spec_source_t *source, msgpack_sbuffer *buf, uint64_t *count_p,
                     char *err, size_t errlen);

#endif
