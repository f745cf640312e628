//  deploy.h -- drover deployed on this machine for one benchmark run: a
//  broker, agents and a sink, child processes on free loopback ports, set
//  up as a drover_setup_t says: as users run it (LMDB stores, CURVE with
//  allow-lists, results sealed for the sink, keys made by `drover keygen`
//  in the run's own directory and removed with it) or memory/plain.  Each
//  daemon is watched by a usage meter under its role.
#ifndef DROVER_BENCH_DEPLOY_H
#define DROVER_BENCH_DEPLOY_H

#include "bench/bench.h"
#include "producer/producer.h"

typedef struct deploy deploy_t;

//  Start it in a new directory under params->dir named after name, and
//  wait until the sink's file exists.  NULL with the reason in err.
deploy_t   *deploy_new (const bench_params_t *params, const drover_setup_t *setup,
                        const char *name, usage_meter_t *meter, char *err, size_t errlen);
//  Stop the daemons; remove the stores, the results and the keys (the logs
//  stay, for the bench's scratch directory to keep or remove).
void        deploy_destroy (deploy_t **self_p);

//  False (and a line on stderr) once a daemon has exited.
bool        deploy_alive (deploy_t *self);
//  The sink's JSON Lines file.
const char *deploy_output (const deploy_t *self);
//  True for the ports its broker and sink listen on (a scan finds them).
bool        deploy_owns_port (const deploy_t *self, int port);
//  The run's directory (logs; a place for input files).
const char *deploy_dir (const deploy_t *self);
//  A producer for job with handler: CURVE with the producer's keys and the
//  job's results sealed for the sink when secure.  NULL on failure.
producer_t *deploy_producer (deploy_t *self, const char *job, const char *handler);
//  argv for `drover submit --wait` of job to this deployment, reading
//  input, handler options as JSON (or NULL); into argv (room for 32).
void        deploy_submit_argv (deploy_t *self, const char *job, const char *handler,
                                const char *options, const char *input, char **argv);

#endif
