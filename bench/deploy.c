//  deploy.c -- see deploy.h.  The daemons get exactly the flags below: the
//  bench clears DROVER_* from its environment at start (main.c), so no
//  configuration of the caller's changes what is measured.
#include "bench/deploy.h"
#include "bench/procs.h"
#include "common/keys.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENTS_MAX 4

struct deploy {
    const bench_params_t *params;
    drover_setup_t setup;
    char dir[256];                  //  under the bench's scratch directory
    char frontend[64], intake[64], backend[64], sink[64];
    char output[PATH_MAX + 32];
    procs_t *procs;
    usage_meter_t *meter;
    keys_t *producer_keys;          //  secure only
    uint8_t broker_key[KEYS_KEY_SIZE];
    char sink_key[KEYS_Z85_SIZE + 1];
    char producer_cert[PATH_MAX], broker_cert[PATH_MAX];   //  for drover submit
};

//  dir/sub/name (name may be NULL) into path.
static char *
s_path (char *path, const deploy_t *self, const char *sub, const char *name)
{
    snprintf (path, PATH_MAX, "%s/%s%s%s", self->dir, sub, name? "/": "", name? name: "");
    return path;
}

static int
s_copy (const char *from, const char *to)
{
    char data[4096];
    FILE *in = fopen (from, "r"), *out = in? fopen (to, "w"): NULL;
    size_t size = in? fread (data, 1, sizeof data, in): 0;
    int rc = out && size > 0 && fwrite (data, 1, size, out) == size? 0: -1;
    if (in)
        fclose (in);
    if (out && fclose (out))
        rc = -1;
    return rc;
}

//  `drover keygen` for name into keys/; its public certificate also into
//  allow (a directory the broker or the sink reads as an allow-list).
static int
s_keygen (deploy_t *self, const char *name, const char *allow)
{
    char keys[PATH_MAX], log[64], from[PATH_MAX], to[PATH_MAX];
    snprintf (log, sizeof log, "keygen-%s", name);
    char *argv[] = { (char *) self->params->drover, "keygen", "--dir",
                     s_path (keys, self, "keys", NULL), (char *) name, NULL };
    if (procs_run (self->dir, log, argv, 10000, NULL, NULL) != 0)
        return -1;
    return allow? s_copy (s_path (from, self, "keys", name), s_path (to, self, allow, name)): 0;
}

//  Keys for every role, the allow-lists, and what the producer needs.
static int
s_make_keys (deploy_t *self, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc = mkdir (s_path (path, self, "allow-producers", NULL), 0700)
          || mkdir (s_path (path, self, "allow-agents", NULL), 0700)
          || s_keygen (self, "broker", NULL) || s_keygen (self, "sink", NULL)
          || s_keygen (self, "producer", "allow-producers");
    for (int i = 1; rc == 0 && i <= self->setup.agents; i++) {
        char name[32];
        snprintf (name, sizeof name, "agent-%d", i);
        rc = s_keygen (self, name, "allow-agents");
    }
    if (rc) {
        snprintf (err, errlen, "drover keygen or the allow-lists failed; logs in %s", self->dir);
        return -1;
    }
    s_path (self->producer_cert, self, "keys", "producer");
    s_path (self->broker_cert, self, "keys", "broker");
    keys_t *sink = keys_load (s_path (path, self, "keys", "sink"), err, errlen);
    if (sink)
        snprintf (self->sink_key, sizeof self->sink_key, "%s", keys_public_txt (sink));
    keys_destroy (&sink);
    self->producer_keys = keys_load (self->producer_cert, err, errlen);
    if (!self->sink_key[0] || !self->producer_keys
    ||  keys_peer_public (self->broker_cert, self->broker_key, err, errlen))
        return -1;
    return 0;
}

static void
s_start_broker (deploy_t *self)
{
    char *drover = (char *) self->params->drover;
    char cert[PATH_MAX], data[PATH_MAX], producers[PATH_MAX], agents[PATH_MAX];
    pid_t pid = self->setup.secure
        ? procs_start (self->procs, "broker", (char *[]) { drover, "broker",
              "--cert", s_path (cert, self, "keys", "broker"),
              "--frontend", self->frontend, "--intake", self->intake,
              "--backend", self->backend, "--data-dir", s_path (data, self, "broker-data", NULL),
              "--allow-producers", s_path (producers, self, "allow-producers", NULL),
              "--allow-agents", s_path (agents, self, "allow-agents", NULL), NULL })
        : procs_start (self->procs, "broker", (char *[]) { drover, "broker", "--insecure",
              "--store", "memory", "--frontend", self->frontend, "--intake", self->intake,
              "--backend", self->backend, NULL });
    usage_meter_add (self->meter, ROLE_BROKER, pid);
}

static void
s_start_sink (deploy_t *self)
{
    char *drover = (char *) self->params->drover;
    char cert[PATH_MAX], agents[PATH_MAX];
    pid_t pid = self->setup.secure
        ? procs_start (self->procs, "sink", (char *[]) { drover, "sink",
              "--cert", s_path (cert, self, "keys", "sink"), "--bind", self->sink,
              "--output", self->output,
              "--allow-agents", s_path (agents, self, "allow-agents", NULL), NULL })
        : procs_start (self->procs, "sink", (char *[]) { drover, "sink", "--insecure",
              "--bind", self->sink, "--output", self->output, "--store", "memory", NULL });
    usage_meter_add (self->meter, ROLE_SINK, pid);
}

static void
s_start_agent (deploy_t *self, int number)
{
    char name[32], cert[PATH_MAX], broker[PATH_MAX];
    snprintf (name, sizeof name, "agent-%d", number);
    char *argv[16] = { (char *) self->params->drover, "agent", "--broker", self->backend,
                       "--name", name };
    int argc = 6;
    if (self->setup.secure) {
        argv[argc++] = "--cert";
        argv[argc++] = s_path (cert, self, "keys", name);
        argv[argc++] = "--broker-key";
        argv[argc++] = s_path (broker, self, "keys", "broker");
    }
    else
        argv[argc++] = "--insecure";
    if (self->setup.in_agent) {
        argv[argc++] = "--processes";
        argv[argc++] = "0";
    }
    if (self->params->threads) {
        argv[argc++] = "--threads";
        argv[argc++] = (char *) self->params->threads;
    }
    usage_meter_add (self->meter, ROLE_AGENT, procs_start (self->procs, name, argv));
}

deploy_t *
deploy_new (const bench_params_t *params, const drover_setup_t *setup, const char *name,
            usage_meter_t *meter, char *err, size_t errlen)
{
    deploy_t *self = calloc (1, sizeof *self);
    if (!self || setup->agents < 1 || setup->agents > AGENTS_MAX) {
        snprintf (err, errlen, "out of memory, or not 1-%d agents", AGENTS_MAX);
        free (self);
        return NULL;
    }
    *self = (deploy_t) { .params = params, .setup = *setup, .meter = meter };
    snprintf (self->dir, sizeof self->dir, "%s/%s-XXXXXX", params->dir, name);
    if (!mkdtemp (self->dir) || !(self->procs = procs_new (self->dir))) {
        snprintf (err, errlen, "cannot make %s: %s", self->dir, strerror (errno));
        deploy_destroy (&self);
        return NULL;
    }
    snprintf (self->frontend, sizeof self->frontend, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (self->intake, sizeof self->intake, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (self->backend, sizeof self->backend, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (self->sink, sizeof self->sink, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (self->output, sizeof self->output, "%s/results.jsonl", self->dir);
    if (setup->secure && s_make_keys (self, err, errlen)) {
        deploy_destroy (&self);
        return NULL;
    }
    s_start_broker (self);
    s_start_sink (self);
    for (int i = 1; i <= setup->agents; i++)
        s_start_agent (self, i);
    //  The sink creates its file when it starts.
    struct stat st;
    for (int i = 0; i < 500 && stat (self->output, &st) && procs_alive (self->procs); i++)
        usleep (10000);
    if (stat (self->output, &st)) {
        snprintf (err, errlen, "drover did not start; logs in %s", self->dir);
        deploy_destroy (&self);
    }
    return self;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

void
deploy_destroy (deploy_t **self_p)
{
    deploy_t *self = *self_p;
    if (!self)
        return;
    procs_destroy (&self->procs);
    keys_destroy (&self->producer_keys);
    const char *remove_[] = { "keys", "allow-producers", "allow-agents", "broker-data",
                              "results.jsonl.sink-data", "results.jsonl", "tuples.jsonl", NULL };
    for (int i = 0; remove_[i]; i++) {
        char path[PATH_MAX];
        nftw (s_path (path, self, remove_[i], NULL), s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free (self);
    *self_p = NULL;
}

bool
deploy_alive (deploy_t *self)
{
    return procs_alive (self->procs);
}

const char *
deploy_output (const deploy_t *self)
{
    return self->output;
}

bool
deploy_owns_port (const deploy_t *self, int port)
{
    const char *endpoints[] = { self->frontend, self->intake, self->backend, self->sink };
    for (int i = 0; i < 4; i++) {
        const char *colon = strrchr (endpoints[i], ':');
        if (colon && atoi (colon + 1) == port)
            return true;
    }
    return false;
}

const char *
deploy_dir (const deploy_t *self)
{
    return self->dir;
}

producer_t *
deploy_producer (deploy_t *self, const char *job, const char *handler)
{
    producer_t *producer = self->setup.secure
        ? producer_new_curve (self->frontend, self->producer_keys, self->broker_key)
        : producer_new (self->frontend);
    if (!producer)
        return NULL;
    producer_set_job (producer, job);
    producer_set_handler (producer, handler);
    producer_set_sink (producer, self->sink);
    if (self->setup.secure)
        producer_set_sink_key (producer, self->sink_key);
    return producer;
}

void
deploy_submit_argv (deploy_t *self, const char *job, const char *handler, const char *options,
                    const char *input, char **argv)
{
    int argc = 0;
    char *fixed[] = { (char *) self->params->drover, "submit", "--broker", self->frontend,
                      "--job", (char *) job, "--handler", (char *) handler,
                      "--sink", self->sink, "--wait", NULL };
    for (int i = 0; fixed[i]; i++)
        argv[argc++] = fixed[i];
    if (options) {
        argv[argc++] = "--options";
        argv[argc++] = (char *) options;
    }
    if (self->setup.secure) {
        argv[argc++] = "--cert";
        argv[argc++] = self->producer_cert;
        argv[argc++] = "--broker-key";
        argv[argc++] = self->broker_cert;
        argv[argc++] = "--sink-key";
        argv[argc++] = self->sink_key;
    }
    else
        argv[argc++] = "--insecure";
    argv[argc++] = (char *) input;
    argv[argc] = NULL;
}
