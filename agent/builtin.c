//  builtin.c -- the built-in handlers; see builtin.h.  They run on the
//  calling handler thread and block only in poll (), which also watches the
//  call's cancel fd and deadline.
#include "agent/builtin.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

//  A msgpack number as a double; false if obj is not a number.
static bool
s_number (const msgpack_object *obj, double *value)
{
    if (!obj)
        return false;
    switch (obj->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: *value = (double) obj->via.u64; return true;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: *value = (double) obj->via.i64; return true;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:          *value = obj->via.f64; return true;
        default:                              return false;
    }
}

//  The tuple's i-th argument: element i of an array; a bare value is arg 0.
static const msgpack_object *
s_arg (const handler_call_t *call, uint32_t i)
{
    const msgpack_object *tuple = call->tuple;
    if (tuple->type == MSGPACK_OBJECT_ARRAY)
        return i < tuple->via.array.size? &tuple->via.array.ptr[i]: NULL;
    return i == 0? tuple: NULL;
}

static void
s_pack_str (msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

#define s_pack_lit(pk, lit) s_pack_str ((pk), (lit), sizeof (lit) - 1)

//  Milliseconds left until the call's deadline, capped at limit_ms.
static int64_t
s_budget_ms (const handler_call_t *call, int64_t limit_ms)
{
    if (!call->deadline)
        return limit_ms;
    int64_t left = call->deadline - zclock_mono ();
    left = left < 0? 0: left;
    return left < limit_ms? left: limit_ms;
}

//  Wait up to ms for fd (may be -1) to be ready for events, or for the
//  cancel fd.  Returns 1 if fd is ready, 0 on time-out, -ECANCELED.
static int
s_wait (const handler_call_t *call, int fd, short events, int64_t ms)
{
    int64_t until = zclock_mono () + ms;
    while (true) {
        struct pollfd items[2] = { { .fd = call->cancel_fd, .events = POLLIN },
                                   { .fd = fd, .events = events } };
        int64_t left = until - zclock_mono ();
        int rc = poll (items, 2, left < 0? 0: (int) (left > INT32_MAX? INT32_MAX: left));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -errno;
        if (items[0].revents)
            return -ECANCELED;
        if (items[1].revents)
            return 1;
        if (zclock_mono () >= until)
            return 0;
    }
}

static int
s_echo (void *self, handler_call_t *call)
{
    (void) self;
    //  The bytes as they came (one valid value: agent/registry.c checked),
    //  not decoded and packed again: a tenth of a worker's CPU with echo.
    int rc = msgpack_sbuffer_write (call->output, call->tuple_data, call->tuple_size);
    if (rc)
        return handler_fail (call, "echo: out of memory");
    return handler_emit (call, true);
}

static int
s_sleep (void *self, handler_call_t *call)
{
    (void) self;
    double ms;
    if (!s_number (s_arg (call, 0), &ms) || !(ms >= 0) || ms > 86400000.0)
        return handler_fail (call, "sleep: tuple must be [ms] with 0 <= ms <= 86400000");
    int64_t want = (int64_t) llround (ms);
    int64_t budget = s_budget_ms (call, want);
    int rc = s_wait (call, -1, 0, budget);
    if (rc == -ECANCELED)
        return handler_fail (call, "sleep: cancelled");
    if (budget < want)
        return handler_fail (call, "sleep: timed out before %lld ms", (long long) want);
    msgpack_pack_map (&call->packer, 1);
    s_pack_lit (&call->packer, "slept_ms");
    msgpack_pack_int64 (&call->packer, want);
    return handler_emit (call, true);
}

static int
s_sha256 (void *self, handler_call_t *call)
{
    (void) self;
    const msgpack_object *arg = s_arg (call, 0);
    const unsigned char *data = call->tuple_data;
    size_t size = call->tuple_size;
    bool single = call->tuple->type == MSGPACK_OBJECT_ARRAY && call->tuple->via.array.size == 1;
    if (single && arg->type == MSGPACK_OBJECT_STR) {
        data = (const unsigned char *) arg->via.str.ptr;
        size = arg->via.str.size;
    }
    else
    if (single && arg->type == MSGPACK_OBJECT_BIN) {
        data = (const unsigned char *) arg->via.bin.ptr;
        size = arg->via.bin.size;
    }
    if (sodium_init () < 0)
        return handler_fail (call, "sha256: libsodium failed to initialise");
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, data, size);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    s_pack_str (&call->packer, hex, sizeof hex - 1);
    return handler_emit (call, true);
}

static int
s_fail (void *self, handler_call_t *call)
{
    (void) self;
    return handler_fail (call, "fail: this handler always fails");
}

//  tcp-probe's target: [host, port] or {"host": h, "port": p}.
static int
s_probe_target (handler_call_t *call, char *host, size_t host_max, unsigned *port)
{
    const msgpack_object *h, *p;
    if (call->tuple->type == MSGPACK_OBJECT_MAP) {
        h = handler_option (call->tuple, "host");
        p = handler_option (call->tuple, "port");
    }
    else {
        h = s_arg (call, 0);
        p = s_arg (call, 1);
    }
    double number;
    if (!h || h->type != MSGPACK_OBJECT_STR || h->via.str.size == 0
    ||  h->via.str.size >= host_max || memchr (h->via.str.ptr, 0, h->via.str.size)
    ||  !s_number (p, &number) || number < 1 || number > 65535 || number != floor (number))
        return handler_fail (call, "tcp-probe: tuple must be [host, port] or "
                                   "{\"host\": host, \"port\": port} with port 1..65535");
    memcpy (host, h->via.str.ptr, h->via.str.size);
    host[h->via.str.size] = 0;
    *port = (unsigned) number;
    return 0;
}

//  Connect to addr within ms.  Returns 0 if open, else a positive errno
//  (ECONNREFUSED, ETIMEDOUT, ...), or -ECANCELED.
//  True if fd is connected to itself: a probe of a port in the kernel's
//  ephemeral range on this host can be given that very port as its source,
//  and TCP's simultaneous open then connects the socket to itself, which
//  no listener did (a port about one probe in 28,000 reported open).
static bool
s_connected_to_itself (int fd)
{
    struct sockaddr_storage local, peer;
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    return getsockname (fd, (struct sockaddr *) &local, &local_len) == 0
        && getpeername (fd, (struct sockaddr *) &peer, &peer_len) == 0
        && local_len == peer_len && memcmp (&local, &peer, local_len) == 0;
}

static int
s_connect (const handler_call_t *call, const struct addrinfo *addr, int64_t ms)
{
    int fd = socket (addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int err = 0;
    if (connect (fd, addr->ai_addr, addr->ai_addrlen) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            int rc = s_wait (call, fd, POLLOUT, ms);
            socklen_t len = sizeof err;
            if (rc == 1 && getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            else
            if (rc != 1)
                err = rc == 0? ETIMEDOUT: rc == -ECANCELED? -ECANCELED: -rc;
        }
    }
    if (err == 0 && s_connected_to_itself (fd))
        err = ECONNREFUSED;
    close (fd);
    return err;
}

static int
s_tcp_probe (void *self, handler_call_t *call)
{
    (void) self;
    char host[256];
    unsigned port = 0;
    if (s_probe_target (call, host, sizeof host, &port))
        return -1;
    double timeout = 1000;
    const msgpack_object *option = handler_option (call->options, "connect_timeout_ms");
    if (option && (!s_number (option, &timeout) || timeout < 0))
        return handler_fail (call, "tcp-probe: option connect_timeout_ms must be a number >= 0");

    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    char service[8];
    snprintf (service, sizeof service, "%u", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *addrs = NULL;
    int rc = getaddrinfo (host, service, &hints, &addrs);
    if (rc)
        return handler_fail (call, "tcp-probe: cannot resolve '%s': %s", host, gai_strerror (rc));
    int err = s_connect (call, addrs, s_budget_ms (call, (int64_t) timeout));
    freeaddrinfo (addrs);
    if (err == -ECANCELED)
        return handler_fail (call, "tcp-probe: cancelled");
    clock_gettime (CLOCK_MONOTONIC, &t1);
    double ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;

    msgpack_packer *pk = &call->packer;
    msgpack_pack_map (pk, err? 5: 4);
    s_pack_lit (pk, "host");
    s_pack_str (pk, host, strlen (host));
    s_pack_lit (pk, "port");
    msgpack_pack_unsigned_int (pk, port);
    s_pack_lit (pk, "state");
    if (err == 0)
        s_pack_lit (pk, "open");
    else
    if (err == ECONNREFUSED)
        s_pack_lit (pk, "closed");
    else
        s_pack_lit (pk, "filtered");
    s_pack_lit (pk, "ms");
    msgpack_pack_double (pk, ms);
    if (err) {
        const char *text = strerror (err);
        s_pack_lit (pk, "error");
        s_pack_str (pk, text, strlen (text));
    }
    return handler_emit (call, true);
}

static const struct {
    const char *name;
    handler_fn *fn;
    bool bytes_only;
} s_builtins[] = {
    { "echo", s_echo, true },
    { "sleep", s_sleep, false },
    { "sha256", s_sha256, false },
    { "tcp-probe", s_tcp_probe, false },
    { "fail", s_fail, true },   //  for tests of retries and dead letters
};
#define BUILTIN_COUNT (sizeof s_builtins / sizeof s_builtins[0])

handler_fn *
builtin_lookup (const char *name, bool *bytes_only)
{
    for (size_t i = 0; name && i < BUILTIN_COUNT; i++)
        if (!strcmp (name, s_builtins[i].name)) {
            *bytes_only = s_builtins[i].bytes_only;
            return s_builtins[i].fn;
        }
    return NULL;
}
