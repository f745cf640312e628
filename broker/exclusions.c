//  exclusions.c -- see exclusions.h.  The list is a targets_t (merged
//  address ranges and names), so a check is a binary search and a list
//  of /8s costs what one address costs.  The file's identity (inode,
//  size, modification time) tells when to read it again.
#include "broker/exclusions.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "spec/targets.h"
#include "spec/tuple_peek.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct exclusions {
    char *path;
    targets_t *targets;
    struct stat read_as;        //  the file when it was last read (or failed)
    int64_t next_check;
    uint64_t excluded;
};

static bool
s_same_file (const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size
        && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

//  The list in the file, or NULL with the reason in err.
static targets_t *
s_load (const char *path, char *err, size_t errlen)
{
    targets_t *targets = targets_new ();
    if (!targets)
        snprintf (err, errlen, "out of memory");
    else
    if (targets_add_file (targets, path, err, errlen))
        targets_destroy (&targets);
    return targets;
}

exclusions_t *
exclusions_new (const char *path)
{
    exclusions_t *self = calloc (1, sizeof *self);
    char err[300] = "out of memory";
    if (self && (self->path = strdup (path))) {
        stat (path, &self->read_as);
        self->targets = s_load (path, err, sizeof err);
    }
    if (!self || !self->targets) {
        log_error ("broker: --exclude-file %s: %s", path, err);
        exclusions_destroy (&self);
        return NULL;
    }
    log_info ("broker: excluding %s (%zu address ranges, %zu names) from every job", path,
              rangeset_ranges (targets_addresses (self->targets)), targets_names (self->targets));
    return self;
}

void
exclusions_destroy (exclusions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    exclusions_t *self = *self_p;
    targets_destroy (&self->targets);
    free (self->path);
    free (self);
    *self_p = NULL;
}

void
exclusions_tick (exclusions_t *self, int64_t now)
{
    if (!self || now < self->next_check)
        return;
    self->next_check = now + EXCLUSIONS_CHECK_MS;
    struct stat st;
    if (stat (self->path, &st)) {
        memset (&st, 0, sizeof st);
        if (self->read_as.st_ino)
            log_warn ("broker: --exclude-file %s: %s; the list stays as it was", self->path,
                      strerror (errno));
    }
    if (s_same_file (&st, &self->read_as))
        return;
    self->read_as = st;
    if (!st.st_ino)
        return;
    char err[300];
    targets_t *targets = s_load (self->path, err, sizeof err);
    if (!targets) {
        log_error ("broker: --exclude-file %s: %s; the list stays as it was", self->path, err);
        return;
    }
    targets_destroy (&self->targets);
    self->targets = targets;
    log_info ("broker: --exclude-file %s read again (%zu address ranges, %zu names)",
              self->path, rangeset_ranges (targets_addresses (targets)),
              targets_names (targets));
}

static bool
s_excluded (const exclusions_t *self, payload_t payload)
{
    tuple_target_t target;
    size_t size;
    const void *data = payload_data (payload, &size);
    return data
        && tuple_peek_target (data, size, &target) == 0
        && targets_contains (self->targets, target.host, target.host_len);
}

size_t
exclusions_split (exclusions_t *self, const job_t *job, queue_tuple_t *tuples,
                  size_t *count_p, queue_tuple_t *excluded)
{
    size_t kept = 0, out = 0;
    for (size_t i = 0; i < *count_p; i++)
        if (s_excluded (self, tuples[i].payload))
            excluded[out++] = tuples[i];
        else
            tuples[kept++] = tuples[i];
    *count_p = kept;
    if (out)
        log_debug ("job %s: %zu tuples excluded by --exclude-file",
                   peerlog_str (job_name (job)).text, out);
    self->excluded += out;
    return out;
}

uint64_t
exclusions_excluded (const exclusions_t *self)
{
    return self? self->excluded: 0;
}
