//  job_fields.h -- the job's fields a producer repeats on every SUBMIT
//  (PROTOCOL.md 4.1: job, handler, sink, sink_key, options, max_attempts,
//  timeout_ms), kept as producer.h's setters give them and put into each
//  SUBMIT the producer builds.
#ifndef DROVER_JOB_FIELDS_H
#define DROVER_JOB_FIELDS_H

#include "proto/msg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct job_fields job_fields_t;

//  NULL if out of memory.
job_fields_t *job_fields_new (void);
void          job_fields_destroy (job_fields_t **self_p);

//  A str field (job, handler, sink, sink_key), copied; NULL leaves it out.
void        job_fields_set_str (job_fields_t *self, msg_field_t field, const char *value);
//  A uint field (max_attempts, timeout_ms); 0 leaves it out.
void        job_fields_set_uint (job_fields_t *self, msg_field_t field, uint64_t value);
//  options as JSON text, which must be an object.  0, or -1 with the
//  reason in err.
int         job_fields_set_options (job_fields_t *self, const char *json, char *err,
                                    size_t errlen);
//  A map field (spec: PROTOCOL.md 10) as raw msgpack, copied.  0, or -1 if
//  it is not one map.
int         job_fields_set_map (job_fields_t *self, msg_field_t field, const void *data,
                                size_t size);
//  The job's name, or NULL if not set.
const char *job_fields_job (const job_fields_t *self);
//  Set the fields in msg (a SUBMIT).  0, or what msg's setters returned.
int         job_fields_apply (const job_fields_t *self, msg_t *msg);

#endif
