//  test_handler.c -- the built-in handlers, run through the registry as a
//  handler thread runs them: outputs (as JSON), error texts, unknown names
//  and tuples that are not msgpack, and tcp-probe against
//  sockets the test opens on 127.0.0.1 (open, closed, and filtered by a full
//  accept queue).
#include <criterion/criterion.h>

#include "agent/registry.h"
#include "common/json_read.h"
#include "common/json_write.h"
#include "support.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

//  One handler run: inputs in, output as JSON or the error out.
typedef struct {
    int rc;
    char json[1024];            //  the outputs as JSON, one per line
    char error[HANDLER_ERROR_MAX];
    size_t outputs;
    size_t emits;               //  emit callback calls
    bool final;                 //  the last emit said final
    uint8_t last[64];           //  the last output's bytes (its first 64)
    size_t last_size;
} run_t;

static int
s_on_emit (void *arg, const void *data, size_t size, bool final)
{
    run_t *run = arg;
    run->emits++;
    run->final = final;
    cr_assert (size > 0, "an emitted output is one msgpack value");
    run->last_size = size;
    memcpy (run->last, data, size < sizeof run->last? size: sizeof run->last);
    return 0;
}

static void
s_pack_json (msgpack_sbuffer *buf, const char *json)
{
    char err[128];
    msgpack_sbuffer_init (buf);
    cr_assert_eq (json_to_msgpack (json, strlen (json), buf, err, sizeof err), 0,
                  "bad test JSON %s: %s", json, err);
}

//  Run handler name on raw tuple bytes; options as JSON or NULL.
static run_t
s_run_raw (const char *name, const void *tuple, size_t size, const char *options,
           int64_t timeout_ms, int cancel_fd)
{
    run_t run = { 0 };
    msgpack_sbuffer output, opts = { 0 };
    msgpack_sbuffer_init (&output);
    if (options)
        s_pack_json (&opts, options);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    handler_call_t call;
    handler_call_init (&call, &output);
    call.emit = s_on_emit;
    call.emit_arg = &run;
    call.cancel_fd = cancel_fd;
    if (timeout_ms)
        call.deadline = zclock_mono () + timeout_ms;
    registry_t *registry = registry_new ();
    cr_assert_not_null (registry);
    run.rc = registry_run (registry, &call, name, tuple, size, opts.data, opts.size, &zone);
    registry_destroy (&registry);
    run.outputs = call.outputs;
    snprintf (run.error, sizeof run.error, "%s", call.error);
    //  Each output back to JSON.
    FILE *out = fmemopen (run.json, sizeof run.json - 1, "w");
    size_t offset = 0;
    msgpack_unpacked obj;
    msgpack_unpacked_init (&obj);
    while (msgpack_unpack_next (&obj, output.data, call.mark, &offset) == MSGPACK_UNPACK_SUCCESS) {
        json_write (out, &obj.data);
        fputc ('\n', out);
    }
    fclose (out);
    msgpack_unpacked_destroy (&obj);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&output);
    if (options)
        msgpack_sbuffer_destroy (&opts);
    return run;
}

static run_t
s_run (const char *name, const char *tuple_json, const char *options)
{
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, tuple_json);
    run_t run = s_run_raw (name, tuple.data, tuple.size, options, 0, -1);
    msgpack_sbuffer_destroy (&tuple);
    return run;
}

Test (handler, echo_returns_the_tuple)
{
    run_t run = s_run ("echo", "[1,\"a\",{\"b\":true},null,-2.5]", NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, "[1,\"a\",{\"b\":true},null,-2.5]\n");
    cr_assert_eq (run.outputs, 1);
    cr_assert_eq (run.emits, 1);
    cr_assert (run.final, "a built-in's one output is its final one");
}

//  echo hands back the tuple's own bytes, not a decoding packed again: a
//  5 written as uint8 (0xcc 0x05), which msgpack-c would pack as 0x05,
//  comes back as written.
Test (handler, echo_returns_the_tuples_own_bytes)
{
    const uint8_t tuple[] = { 0x92, 0xcc, 0x05, 0xa1, 'a' };
    run_t run = s_run_raw ("echo", tuple, sizeof tuple, NULL, 0, -1);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_eq (run.last_size, sizeof tuple);
    cr_assert_arr_eq (run.last, tuple, sizeof tuple);
    cr_assert_str_eq (run.json, "[5,\"a\"]\n");
}

Test (handler, sleep_sleeps_and_reports)
{
    int64_t start = zclock_mono ();
    run_t run = s_run ("sleep", "[60]", NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_geq (zclock_mono () - start, 60);
    cr_assert_str_eq (run.json, "{\"slept_ms\":60}\n");
    run = s_run ("sleep", "[0]", NULL);
    cr_assert_str_eq (run.json, "{\"slept_ms\":0}\n");
}

Test (handler, sleep_rejects_bad_tuples)
{
    const char *bad[] = { "[\"x\"]", "[]", "[-1]", "{\"ms\":5}", "[1e12]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_t run = s_run ("sleep", bad[i], NULL);
        cr_assert_eq (run.rc, -1, "sleep %s should fail", bad[i]);
        cr_assert (strstr (run.error, "sleep: tuple must be [ms]"), "%s", run.error);
        cr_assert_eq (run.outputs, 0);
    }
}

Test (handler, sleep_stops_at_the_deadline)
{
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, "[10000]");
    int64_t start = zclock_mono ();
    run_t run = s_run_raw ("sleep", tuple.data, tuple.size, NULL, 50, -1);
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "sleep: timed out before 10000 ms");
    cr_assert_lt (zclock_mono () - start, 5000);
    msgpack_sbuffer_destroy (&tuple);
}

Test (handler, sleep_is_cancelled_by_the_cancel_fd)
{
    int fd = eventfd (0, EFD_CLOEXEC);
    uint64_t one = 1;
    cr_assert_eq (write (fd, &one, sizeof one), sizeof one);
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, "[10000]");
    int64_t start = zclock_mono ();
    run_t run = s_run_raw ("sleep", tuple.data, tuple.size, NULL, 0, fd);
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "sleep: cancelled");
    cr_assert_lt (zclock_mono () - start, 5000);
    msgpack_sbuffer_destroy (&tuple);
    close (fd);
}

Test (handler, sha256_of_str_bin_and_other_tuples)
{
    const char *abc = "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n";
    run_t run = s_run ("sha256", "[\"abc\"]", NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, abc);

    //  [bin "abc"] hashes the same bytes.
    const unsigned char bin[] = { 0x91, 0xc4, 0x03, 'a', 'b', 'c' };
    run = s_run_raw ("sha256", bin, sizeof bin, NULL, 0, -1);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, abc);

    //  Anything else: the digest of the tuple's msgpack bytes.
    const unsigned char other[] = { 0x92, 0x01, 0x02 };
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, other, sizeof other);
    char expected[80];
    expected[0] = '"';
    sodium_bin2hex (expected + 1, 65, digest, sizeof digest);
    strcat (expected, "\"\n");
    run = s_run_raw ("sha256", other, sizeof other, NULL, 0, -1);
    cr_assert_str_eq (run.json, expected);
}

Test (handler, fail_always_fails)
{
    run_t run = s_run ("fail", "[1]", NULL);
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "fail: this handler always fails");
    cr_assert_eq (run.outputs, 0);
    cr_assert_eq (run.emits, 0);
}

Test (handler, unknown_handler_and_malformed_tuples)
{
    run_t run = s_run ("nope", "[1]", NULL);
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "unknown handler 'nope'");

    const unsigned char never_used[] = { 0xc1 };
    const unsigned char truncated[] = { 0x92, 0x01 };
    const unsigned char trailing[] = { 0x91, 0x01, 0x02 };
    const struct { const void *data; size_t size; } bad[] = {
        { never_used, sizeof never_used }, { truncated, sizeof truncated },
        { trailing, sizeof trailing }, { "", 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run = s_run_raw ("echo", bad[i].data, bad[i].size, NULL, 0, -1);
        cr_assert_eq (run.rc, -1, "case %zu", i);
        cr_assert_str_eq (run.error, "tuple is not valid msgpack");
    }
    run = s_run ("Echo", "[1]", NULL);
    cr_assert_str_eq (run.error, "unknown handler 'Echo'", "names are case-sensitive");
    cr_assert_str_eq (registry_names ()[0], "echo");
}

//  A listening TCP socket on 127.0.0.1; its port in *port.
static int
s_listener (int backlog, int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    if (backlog >= 0)
        cr_assert_eq (listen (fd, backlog), 0);
    *port = ntohs (addr.sin_port);
    return fd;
}

//  Parse tcp-probe's JSON output into its fields.
static void
s_probe_json (const run_t *run, char *state, double *ms, char *error)
{
    const char *s = strstr (run->json, "\"state\":\"");
    cr_assert_not_null (s, "%s", run->json);
    sscanf (s + 9, "%15[a-z]", state);
    const char *m = strstr (run->json, "\"ms\":");
    cr_assert_not_null (m, "%s", run->json);
    *ms = strtod (m + 5, NULL);
    error[0] = 0;
    const char *e = strstr (run->json, "\"error\":\"");
    if (e)
        sscanf (e + 9, "%127[^\"]", error);
}

Test (handler, tcp_probe_open_port)
{
    int port;
    int fd = s_listener (16, &port);
    char tuple[64];
    snprintf (tuple, sizeof tuple, "[\"127.0.0.1\",%d]", port);
    run_t run = s_run ("tcp-probe", tuple, NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    char prefix[80];
    snprintf (prefix, sizeof prefix, "{\"host\":\"127.0.0.1\",\"port\":%d,\"state\":\"open\",\"ms\":", port);
    cr_assert_eq (strncmp (run.json, prefix, strlen (prefix)), 0, "%s", run.json);
    cr_assert_null (strstr (run.json, "error"), "%s", run.json);

    //  The map form gives the same answer.
    snprintf (tuple, sizeof tuple, "{\"port\":%d,\"host\":\"127.0.0.1\"}", port);
    run = s_run ("tcp-probe", tuple, NULL);
    cr_assert_eq (strncmp (run.json, prefix, strlen (prefix)), 0, "%s", run.json);
    close (fd);
}

Test (handler, tcp_probe_closed_port)
{
    int port;
    close (s_listener (-1, &port));       //  bound, then closed: nothing listens
    char tuple[64];
    snprintf (tuple, sizeof tuple, "[\"127.0.0.1\",%d]", port);
    run_t run = s_run ("tcp-probe", tuple, NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    char state[16], error[128];
    double ms;
    s_probe_json (&run, state, &ms, error);
    cr_assert_str_eq (state, "closed");
    cr_assert_str_eq (error, strerror (ECONNREFUSED));
    cr_assert (ms >= 0 && ms < 1000, "%f", ms);
}

//  This test process in a network namespace of its own, its loopback up and
//  its ephemeral port range the one port given.
static void
s_own_netns_with_one_ephemeral_port (int port)
{
    cr_assert_eq (unshare (CLONE_NEWNET), 0, "unshare: %s", strerror (errno));
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };
    snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    cr_assert_eq (ioctl (fd, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    cr_assert_eq (ioctl (fd, SIOCSIFFLAGS, &ifr), 0, "lo up: %s", strerror (errno));
    close (fd);
    FILE *range = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "w");
    cr_assert_not_null (range);
    fprintf (range, "%d %d\n", port, port);
    cr_assert_eq (fclose (range), 0);
}

//  A probe whose source port is the port it probes connects to itself
//  (TCP's simultaneous open) though nothing listens: forced here by an
//  ephemeral range of that one port, in a namespace of the test's own.
Test (handler, tcp_probe_connected_to_itself_is_closed)
{
    if (geteuid () != 0)
        cr_skip_test ("a network namespace needs root");
    s_own_netns_with_one_ephemeral_port (40000);
    run_t run = s_run ("tcp-probe", "[\"127.0.0.1\",40000]", NULL);
    cr_assert_eq (run.rc, 0, "%s", run.error);
    char state[16], error[128];
    double ms;
    s_probe_json (&run, state, &ms, error);
    cr_assert_str_eq (state, "closed", "%s", run.json);
    cr_assert_str_eq (error, strerror (ECONNREFUSED));
}

//  Fill a backlog-0 listener's accept queue: once it is full, Linux drops
//  further SYNs, so a connect to it times out, as behind a filtering
//  firewall, without leaving loopback.  Returns the filler sockets' count.
static int
s_fill_accept_queue (int port, int *fillers, int max)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    for (int i = 0; i < max; i++) {
        fillers[i] = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int rc = connect (fillers[i], (struct sockaddr *) &addr, sizeof addr);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd item = { .fd = fillers[i], .events = POLLOUT };
            if (poll (&item, 1, 200) == 0)
                return i + 1;     //  this one's SYN was dropped: the queue is full
        }
    }
    return max;
}

Test (handler, tcp_probe_filtered_by_timeout)
{
    int port;
    int fd = s_listener (0, &port);
    int fillers[8];
    int count = s_fill_accept_queue (port, fillers, 8);
    cr_assert_lt (count, 8, "the accept queue never filled up");

    char tuple[64];
    snprintf (tuple, sizeof tuple, "[\"127.0.0.1\",%d]", port);
    run_t run = s_run ("tcp-probe", tuple, "{\"connect_timeout_ms\":150}");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    char state[16], error[128];
    double ms;
    s_probe_json (&run, state, &ms, error);
    cr_assert_str_eq (state, "filtered");
    cr_assert_str_eq (error, strerror (ETIMEDOUT));
    cr_assert (ms >= 140 && ms < 1000, "%f", ms);

    //  The job's deadline bounds the connect timeout too.
    msgpack_sbuffer packed;
    s_pack_json (&packed, tuple);
    run = s_run_raw ("tcp-probe", packed.data, packed.size, "{\"connect_timeout_ms\":20000}", 100, -1);
    s_probe_json (&run, state, &ms, error);
    cr_assert_str_eq (state, "filtered");
    cr_assert (ms < 1000, "%f", ms);
    msgpack_sbuffer_destroy (&packed);

    for (int i = 0; i < count; i++)
        close (fillers[i]);
    close (fd);
}

Test (handler, tcp_probe_rejects_bad_targets)
{
    const char *bad[] = { "[\"127.0.0.1\"]", "[\"127.0.0.1\",0]", "[\"127.0.0.1\",70000]",
                          "[1,2]", "{\"host\":\"127.0.0.1\"}", "[\"\",80]", "[\"127.0.0.1\",1.5]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_t run = s_run ("tcp-probe", bad[i], NULL);
        cr_assert_eq (run.rc, -1, "%s should fail", bad[i]);
        cr_assert (strstr (run.error, "tcp-probe: tuple must be"), "%s", run.error);
    }
    run_t run = s_run ("tcp-probe", "[\"127.0.0.1\",80]", "{\"connect_timeout_ms\":\"x\"}");
    cr_assert_eq (run.rc, -1);
    cr_assert (strstr (run.error, "connect_timeout_ms"), "%s", run.error);
}
