//  auth.c -- see auth.h.  An actor thread answers ZAP requests on a REP
//  socket and checks the allow-list directories every AUTH_CHECK_MS; the
//  lists live here under one mutex, so auth_allowed can be asked from the
//  role's own thread.  A list is rebuilt off the lock and swapped in whole.
#include "common/auth.h"

#include <czmq.h>
#include "common/allowlist.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct {
    char     *name;
    char     *dir;              //  NULL: allow any
    zhashx_t *keys;             //  Z85 public key -> (void *) 1
    uint64_t  signature;        //  of the directory as last read (actor's)
    int       read_error;       //  errno of the last failed read, or 0
    auth_stats_t stats;
} domain_t;

struct auth {
    zactor_t       *actor;
    pthread_mutex_t lock;       //  guards domains, their keys and stats
    domain_t       *domains[AUTH_DOMAIN_MAX];
    size_t          domain_count;
    atomic_uint_fast64_t generation;
    bool            bind_failed;    //  set by the actor before it signals
    //  Connection lines, at most AUTH_LOG_PER_SEC a second, so a client
    //  retrying with a bad key cannot flood the log; the actor's alone.
    peerlog_t      *log;
};

static void
s_err (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_err (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
}

//  ---------------------------------------------------------------------
//  Domains

static domain_t *
s_find (auth_t *self, const char *name)
{
    for (size_t i = 0; i < self->domain_count; i++)
        if (streq (self->domains[i]->name, name))
            return self->domains[i];
    return NULL;
}

static void
s_domain_destroy (domain_t **domain_p)
{
    domain_t *domain = *domain_p;
    if (!domain)
        return;
    zhashx_destroy (&domain->keys);
    free (domain->name);
    free (domain->dir);
    free (domain);
    *domain_p = NULL;
}

//  Add a domain made by the caller; takes it.  0, -EEXIST or -ENOSPC.
static int
s_add (auth_t *self, domain_t **domain_p)
{
    pthread_mutex_lock (&self->lock);
    int rc = s_find (self, (*domain_p)->name)? -EEXIST
           : self->domain_count == AUTH_DOMAIN_MAX? -ENOSPC: 0;
    if (rc == 0) {
        self->domains[self->domain_count++] = *domain_p;
        *domain_p = NULL;
        atomic_fetch_add (&self->generation, 1);
    }
    pthread_mutex_unlock (&self->lock);
    s_domain_destroy (domain_p);
    return rc;
}

static bool
s_valid_name (const char *domain)
{
    //  ZAP carries the domain as a frame; libzmq limits it to 255 bytes.
    return domain && *domain && strlen (domain) < 256;
}

int
auth_allow_dir (auth_t *self, const char *domain, const char *dir,
                char *err, size_t errlen)
{
    assert (self);
    if (!s_valid_name (domain) || !dir || !*dir) {
        s_err (err, errlen, "auth: a domain needs a name and a directory");
        return -EINVAL;
    }
    domain_t *entry = calloc (1, sizeof *entry);
    if (!entry || !(entry->name = strdup (domain)) || !(entry->dir = strdup (dir))) {
        s_domain_destroy (&entry);
        s_err (err, errlen, "auth: out of memory");
        return -ENOMEM;
    }
    //  Signature first: a change while we read is seen at the next check.
    int rc = allowlist_signature (dir, &entry->signature);
    if (rc == 0)
        rc = allowlist_load (dir, domain, &entry->keys);
    if (rc) {
        s_err (err, errlen, "allow-list of %s: cannot read directory %s: %s",
               domain, dir, strerror (-rc));
        s_domain_destroy (&entry);
        return rc;
    }
    entry->stats.keys = zhashx_size (entry->keys);
    size_t keys = entry->stats.keys;
    rc = s_add (self, &entry);
    if (rc)
        s_err (err, errlen, "auth: domain %s: %s", domain,
               rc == -EEXIST? "already added": "too many domains");
    else
        log_info ("auth: %s: %zu key%s allowed from %s%s", domain, keys,
                  keys == 1? "": "s", dir, keys? "": " (no one can connect yet)");
    return rc;
}

int
auth_allow_any (auth_t *self, const char *domain)
{
    assert (self);
    if (!s_valid_name (domain))
        return -EINVAL;
    domain_t *entry = calloc (1, sizeof *entry);
    if (!entry || !(entry->name = strdup (domain))) {
        s_domain_destroy (&entry);
        return -ENOMEM;
    }
    entry->stats.any = true;
    int rc = s_add (self, &entry);
    if (rc == 0)
        log_warn ("auth: %s: anyone may connect (no allow-list)", domain);
    return rc;
}

int
auth_allow (auth_t *self, const char *domain, const char *spec, bool insecure,
            const char *flag, char *err, size_t errlen)
{
    assert (self);
    flag = flag? flag: "the allow-list";
    if (!insecure && !spec) {
        s_err (err, errlen, "%s DIR is required: a directory of the client "
               "certificates to let in (or 'any' for any key, or --insecure)", flag);
        return -EINVAL;
    }
    int rc = !spec || streq (spec, "any")? auth_allow_any (self, domain)
           : auth_allow_dir (self, domain, spec, err, errlen);
    if (rc == -EEXIST || rc == -ENOSPC || rc == -EINVAL || rc == -ENOMEM)
        s_err (err, errlen, "%s: cannot add domain %s: %s", flag,
               domain? domain: "(none)", strerror (-rc));
    return rc;
}

bool
auth_allowed (auth_t *self, const char *domain, const char *key_z85)
{
    assert (self);
    if (!domain)
        return false;
    pthread_mutex_lock (&self->lock);
    domain_t *entry = s_find (self, domain);
    bool allowed = entry && (entry->stats.any
                   || (key_z85 && zhashx_lookup (entry->keys, key_z85)));
    pthread_mutex_unlock (&self->lock);
    return allowed;
}

uint64_t
auth_generation (auth_t *self)
{
    assert (self);
    return atomic_load (&self->generation);
}

int
auth_stats (auth_t *self, const char *domain, auth_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->lock);
    domain_t *entry = domain? s_find (self, domain): NULL;
    if (entry)
        *stats = entry->stats;
    pthread_mutex_unlock (&self->lock);
    return entry? 0: -ENOENT;
}

//  ---------------------------------------------------------------------
//  The actor: reloads

//  Read domain's directory again if it changed.  Called by the actor only,
//  which alone writes signature and read_error; dir never changes.
static void
s_check (auth_t *self, domain_t *domain)
{
    uint64_t signature = 0;
    int rc = allowlist_signature (domain->dir, &signature);
    if (rc == 0 && domain->read_error == 0 && signature == domain->signature)
        return;
    zhashx_t *keys = NULL;
    if (rc == 0)
        rc = allowlist_load (domain->dir, domain->name, &keys);
    if (rc && -rc == domain->read_error)
        return;                 //  still failing: said so already
    //  Fail closed: a list we cannot read lets no one in.
    if (!keys && !(keys = zhashx_new ()))
        return;                 //  out of memory: keep the old list, retry
    pthread_mutex_lock (&self->lock);
    zhashx_t *old = domain->keys;
    domain->keys = keys;
    domain->stats.keys = zhashx_size (keys);
    domain->stats.reloads++;
    atomic_fetch_add (&self->generation, 1);
    pthread_mutex_unlock (&self->lock);
    zhashx_destroy (&old);
    domain->signature = signature;
    domain->read_error = -rc;
    if (rc)
        log_error ("auth: %s: cannot read allow-list %s: %s; no one may connect "
                   "until it can be read", domain->name, domain->dir, strerror (-rc));
    else
        log_info ("auth: %s: allow-list %s changed, %zu key%s allowed", domain->name,
                  domain->dir, zhashx_size (keys), zhashx_size (keys) == 1? "": "s");
}

static void
s_check_all (auth_t *self)
{
    domain_t *domains[AUTH_DOMAIN_MAX];
    pthread_mutex_lock (&self->lock);
    size_t count = self->domain_count;
    memcpy (domains, self->domains, count * sizeof domains[0]);
    pthread_mutex_unlock (&self->lock);
    //  Domains are never removed while the actor runs.
    for (size_t i = 0; i < count; i++)
        if (domains[i]->dir)
            s_check (self, domains[i]);
}

//  ---------------------------------------------------------------------
//  The actor: ZAP requests

typedef struct {
    const char *domain;
    const char *address;
    const char *mechanism;
    char key[KEYS_Z85_SIZE + 1];    //  CURVE client key, or ""
} zap_request_t;

//  Decide under the lock; 200 or 400, with the reason for a refusal.
static int
s_decide (auth_t *self, const zap_request_t *request, bool *any_p, const char **why_p)
{
    pthread_mutex_lock (&self->lock);
    domain_t *domain = s_find (self, request->domain);
    bool curve = streq (request->mechanism, "CURVE") && request->key[0];
    bool null = streq (request->mechanism, "NULL");
    const char *why = NULL;
    if (!domain)
        why = "unknown domain";
    else
    if (!curve && !(null && domain->stats.any))
        why = "mechanism not allowed";
    else
    if (!domain->stats.any && !zhashx_lookup (domain->keys, request->key))
        why = "key not on the allow-list";
    if (domain && why)
        domain->stats.denied++;
    else
    if (domain)
        domain->stats.allowed++;
    *any_p = domain && domain->stats.any;
    pthread_mutex_unlock (&self->lock);
    *why_p = why;
    return why? 400: 200;
}

static void
s_reply (zsock_t *handler, zframe_t *request_id, int status, const char *text,
         const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addstr (reply, "");
    zmsg_addstrf (reply, "%d", status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0);       //  no metadata
    zmsg_send (&reply, handler);
}

static void
s_zap (auth_t *self, zsock_t *handler)
{
    zmsg_t *msg = zmsg_recv (handler);
    if (!msg)
        return;
    //  version, request id, domain, address, identity, mechanism, credentials
    char *version = zmsg_popstr (msg);
    zframe_t *request_id = zmsg_pop (msg);
    char *domain = zmsg_popstr (msg);
    char *address = zmsg_popstr (msg);
    zframe_t *identity = zmsg_pop (msg);
    char *mechanism = zmsg_popstr (msg);
    zframe_t *credential = zmsg_pop (msg);
    if (!version || !streq (version, "1.0") || !domain || !address || !mechanism) {
        //  Only libzmq talks to us; a REP must answer whatever came.
        log_error ("auth: malformed ZAP request");
        s_reply (handler, request_id, 500, "malformed request", "");
        request_id = NULL;
    }
    else {
        zap_request_t request = { .domain = domain, .address = address,
                                  .mechanism = mechanism };
        if (streq (mechanism, "CURVE") && credential
        &&  zframe_size (credential) == KEYS_KEY_SIZE)
            zmq_z85_encode (request.key, zframe_data (credential), KEYS_KEY_SIZE);
        bool any = false;
        const char *why = NULL;
        int status = s_decide (self, &request, &any, &why);
        const char *who = request.key[0]? request.key: "(no key)";
        if (why)
            peerlog_write (self->log, "auth: connections", LOG_LEVEL_WARN,
                           "auth: %s: refused %s client %s from %s: %s",
                           peerlog_str (domain).text, peerlog_str (mechanism).text, who,
                           peerlog_str (address).text, why);
        else
        if (any)
            peerlog_write (self->log, "auth: connections", LOG_LEVEL_INFO,
                           "auth: %s: allowed %s client %s from %s (allow-any)",
                           peerlog_str (domain).text, peerlog_str (mechanism).text, who,
                           peerlog_str (address).text);
        else
            log_debug ("auth: %s: allowed %s from %s", peerlog_str (domain).text, who,
                       peerlog_str (address).text);
        s_reply (handler, request_id, status, why? why: "OK", why? "": request.key);
        request_id = NULL;
    }
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&request_id);
    zframe_destroy (&identity);
    zframe_destroy (&credential);
    zmsg_destroy (&msg);
}

static void
s_actor (zsock_t *pipe, void *args)
{
    auth_t *self = args;
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!handler || zsock_bind (handler, ZAP_ENDPOINT) != 0) {
        self->bind_failed = true;
        zsock_destroy (&handler);
        zsock_signal (pipe, 0);
        return;
    }
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    //  Daemons drain after SIGTERM and still accept connections meanwhile:
    //  we stop on $TERM only.
    if (poller)
        zpoller_set_nonstop (poller, true);
    self->bind_failed = poller == NULL;
    zsock_signal (pipe, 0);
    int64_t next_check = zclock_mono () + AUTH_CHECK_MS;
    bool running = poller != NULL;
    while (running) {
        int64_t now = zclock_mono ();
        void *which = zpoller_wait (poller, next_check > now? (int) (next_check - now): 0);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            running = command && !streq (command, "$TERM");
            zstr_free (&command);
        }
        else
        if (which == handler)
            s_zap (self, handler);
        peerlog_flush (self->log);
        if (zclock_mono () >= next_check) {
            s_check_all (self);
            next_check = zclock_mono () + AUTH_CHECK_MS;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
}

//  ---------------------------------------------------------------------
//  Life

auth_t *
auth_new (void)
{
    auth_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    atomic_init (&self->generation, 1);
    self->log = peerlog_new (AUTH_LOG_PER_SEC);
    self->actor = self->log? zactor_new (s_actor, self): NULL;
    if (!self->actor || self->bind_failed) {
        log_error ("auth: cannot serve ZAP at %s: another handler has it, or out "
                   "of memory", ZAP_ENDPOINT);
        auth_destroy (&self);
    }
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    assert (self_p);
    auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    for (size_t i = 0; i < self->domain_count; i++)
        s_domain_destroy (&self->domains[i]);
    pthread_mutex_destroy (&self->lock);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}
