//  cmd_demo.c -- `drover demo`: a whole deployment on one machine.  Starts a
//  broker, agents and a sink as child processes on free loopback ports, opens
//  a few listening ports of its own, runs `drover submit --wait` with a
//  tcp-probe scan of 127.0.0.1, then prints the open ports from the sink's
//  JSON Lines (the table of `drover results`) and stops everything it
//  started.  Secure like a real deployment: it makes a keypair for each
//  role, so every connection is CURVE, only listed keys get in, and
//  results are sealed for the sink.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/port_table.h"
#include "common/keys.h"
#include "common/free_port.h"
#include "spec/targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEMO_MAX_CHILDREN  16
#define DEMO_MAX_LISTENERS 4

typedef struct {
    const char *targets;            //  the options (the table below)
    const char *ports;
    uint32_t agents;
    uint32_t threads;               //  0: the agent's default
    bool keep;
    int first_port, last_port;      //  ports, parsed
    uint64_t hosts;                 //  targets, counted
    char self[PATH_MAX];            //  path of this drover binary
    char dir[64];                   //  scratch directory for logs and results
    pid_t children[DEMO_MAX_CHILDREN];
    int child_count;
    int listeners[DEMO_MAX_LISTENERS];
    int listener_ports[DEMO_MAX_LISTENERS];
    int listener_count;
    keys_t *broker_keys;            //  the keypairs, in memory only: each
    keys_t *sink_keys;              //  child gets its secret key through
    keys_t *producer_keys;          //  DROVER_SECRET_KEY, never in argv
    keys_t *agent_keys[DEMO_MAX_CHILDREN];
} demo_t;

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_interrupted = 1;
}

#define AT(field) OPTION_AT (demo_t, field)

static const option_t s_options[] = {
    { "targets", 0, OPTION_STRING, AT (targets), "SPEC",
      .help = "loopback addresses to probe (127.0.0.0/8 only: a demo scans nothing else)" },
    { "ports", 0, OPTION_STRING, AT (ports), "FIRST-LAST", .help = "ports to probe" },
    { "agents", 0, OPTION_NUMBER, AT (agents), "N", 1, DEMO_MAX_CHILDREN - 3,
      .help = "agent processes to start" },
    { "threads", 0, OPTION_NUMBER, AT (threads), "N", 1, 4096,
      .default_text = "the agent's", .help = "handler threads per agent" },
    { "keep", 0, OPTION_BOOL, AT (keep), .help = "keep the scratch directory (logs, results)" },
};

static const options_spec_t s_spec = {
    .command = "demo",
    .usage = "[OPTIONS]",
    .about =
        "Run a tcp-probe scan of 127.0.0.1 through a local broker, agents and a\n"
        "sink (child processes on free loopback ports), show progress, then the\n"
        "open ports and the throughput.  The scan is a spec job (targets x\n"
        "ports, expanded by the broker: docs/campaigns.md).  Stops every process it started.  Every\n"
        "connection is CURVE with a keypair made for each role, results are\n"
        "sealed for the sink; the daemons ignore the caller's DROVER_CERT,\n"
        "DROVER_INSECURE and DROVER_CONFIG.\n",
    OPTIONS_TABLE (s_options),
};

//  --ports FIRST-LAST within 1-65535.  0 or -1.
static int
s_parse_ports (demo_t *self)
{
    char end;
    if (sscanf (self->ports, "%d-%d%c", &self->first_port, &self->last_port, &end) != 2
    ||  self->first_port < 1 || self->last_port > 65535
    ||  self->first_port > self->last_port)
        return -1;
    return 0;
}

//  --targets: loopback addresses only, counted.  0 or -1.
static int
s_parse_targets (demo_t *self, char *err, size_t errlen)
{
    targets_t *targets = targets_new ();
    int rc = targets? targets_add (targets, self->targets, strlen (self->targets), err, errlen)
                    : -1;
    const rangeset_t *addresses = targets? targets_addresses (targets): NULL;
    if (rc == 0 && targets_names (targets) > 0) {
        snprintf (err, errlen, "host names are not loopback addresses");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < rangeset_ranges (addresses); i++) {
        address_t first, last;
        rangeset_range (addresses, i, &first, &last);
        if (first < (ADDRESS_V4_FIRST | 0x7f000000u) || last > (ADDRESS_V4_FIRST | 0x7fffffffu)) {
            snprintf (err, errlen, "the demo scans 127.0.0.0/8 only");
            rc = -1;
        }
    }
    if (rc == 0)
        self->hosts = (uint64_t) targets_count (targets);
    targets_destroy (&targets);
    return rc;
}

//  Listen on a few ports inside the scanned range, so the scan finds
//  something even on a machine with no services.
static void
s_open_listeners (demo_t *self)
{
    int span = self->last_port - self->first_port + 1;
    for (int i = 1; i <= 64 && self->listener_count < DEMO_MAX_LISTENERS; i++) {
        int port = self->first_port + (int) ((long) span * i * 7 / 29 % span);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
        &&  listen (fd, 128) == 0) {
            self->listeners[self->listener_count] = fd;
            self->listener_ports[self->listener_count++] = port;
        }
        else if (fd >= 0)
            close (fd);
    }
}

static bool
s_is_listener (const demo_t *self, int port)
{
    for (int i = 0; i < self->listener_count; i++)
        if (self->listener_ports[i] == port)
            return true;
    return false;
}

//  Start `drover ARGV...` with output to LOG (or inherited if NULL) and
//  keys' secret key in DROVER_SECRET_KEY; the child dies with us
//  (PDEATHSIG) so an interrupted demo leaves nothing.
static pid_t
s_start (demo_t *self, const char *log, keys_t *keys, char *const argv[])
{
    char secret[KEYS_Z85_SIZE + 1];
    zmq_z85_encode (secret, keys_secret (keys), KEYS_KEY_SIZE);
    pid_t parent = getpid ();
    fflush (stdout);                //  or the child inherits unwritten lines
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (1);
        if (log) {
            int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2 (fd, STDOUT_FILENO);
                dup2 (fd, STDERR_FILENO);
                close (fd);
            }
        }
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        //  Our keys only: no certificate, --insecure or config file from
        //  our caller.
        unsetenv ("DROVER_CERT");
        unsetenv ("DROVER_PUBLIC_KEY");
        unsetenv ("DROVER_INSECURE");
        unsetenv ("DROVER_CONFIG");
        setenv ("DROVER_SECRET_KEY", secret, 1);
        execv (self->self, argv);
        _exit (127);
    }
    memset (secret, 0, sizeof secret);
    if (pid > 0 && self->child_count < DEMO_MAX_CHILDREN)
        self->children[self->child_count++] = pid;
    return pid;
}

//  A keypair for each role, and the allow-lists the broker and the sink
//  read: directories of public certificates (no secret files).  0 or -1.
static int
s_make_keys (demo_t *self)
{
    self->broker_keys = keys_new ();
    self->sink_keys = keys_new ();
    self->producer_keys = keys_new ();
    bool made = self->broker_keys && self->sink_keys && self->producer_keys;
    for (int i = 0; made && i < (int) self->agents; i++)
        made = (self->agent_keys[i] = keys_new ()) != NULL;
    if (!made) {
        fprintf (stderr, "drover demo: cannot make keys (libzmq without CURVE?)\n");
        return -1;
    }
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/producers", self->dir);
    int rc = mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/agents", self->dir);
    rc = rc? rc: mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/producers/producer", self->dir);
    rc = rc? rc: zcert_save_public (keys_cert (self->producer_keys), path);
    for (int i = 0; rc == 0 && i < (int) self->agents; i++) {
        snprintf (path, sizeof path, "%s/agents/agent-%d", self->dir, i + 1);
        rc = zcert_save_public (keys_cert (self->agent_keys[i]), path);
    }
    if (rc) {
        fprintf (stderr, "drover demo: cannot write the allow-lists in %s: %s\n",
                 self->dir, strerror (errno));
        return -1;
    }
    return 0;
}

static void
s_destroy_keys (demo_t *self)
{
    keys_destroy (&self->broker_keys);
    keys_destroy (&self->sink_keys);
    keys_destroy (&self->producer_keys);
    for (int i = 0; i < DEMO_MAX_CHILDREN; i++)
        keys_destroy (&self->agent_keys[i]);
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  SIGTERM every child, wait up to 10 s for them to drain, then SIGKILL.
static void
s_stop_children (demo_t *self)
{
    for (int i = 0; i < self->child_count; i++)
        if (self->children[i] > 0)
            kill (self->children[i], SIGTERM);
    int64_t deadline = s_now_ms () + 10000;
    for (int i = 0; i < self->child_count; i++) {
        pid_t pid = self->children[i];
        while (pid > 0 && waitpid (pid, NULL, WNOHANG) == 0) {
            if (s_now_ms () > deadline) {
                kill (pid, SIGKILL);
                waitpid (pid, NULL, 0);
                break;
            }
            usleep (10000);
        }
        self->children[i] = 0;
    }
    self->child_count = 0;
}

//  A child that exited already means a daemon could not start (e.g. bind).
static bool
s_children_alive (demo_t *self)
{
    for (int i = 0; i < self->child_count; i++) {
        int status;
        if (self->children[i] > 0 && waitpid (self->children[i], &status, WNOHANG) > 0) {
            fprintf (stderr, "drover demo: a daemon exited early (status %d); see logs in %s\n",
                     status, self->dir);
            self->children[i] = 0;
            return false;
        }
    }
    return true;
}

static const char *
s_note (void *self, const char *host, unsigned port)
{
    (void) host;
    return s_is_listener (self, (int) port)? "demo listener": NULL;
}

//  The open ports from the sink's results (cli/port_table.h), then the
//  counts and the throughput.
static int
s_report (const demo_t *self, const char *path, int64_t elapsed_ms)
{
    int probed = (int) self->hosts * (self->last_port - self->first_port + 1);
    FILE *file = fopen (path, "r");
    port_table_t *table = file? port_table_new ("demo-scan", false): NULL;
    if (!table || port_table_read (table, file)) {
        fprintf (stderr, "drover demo: no results at %s\n", path);
        port_table_destroy (&table);
        if (file)
            fclose (file);
        return 1;
    }
    fclose (file);
    char suffix[64];
    snprintf (suffix, sizeof suffix, " (ports %d-%d)", self->first_port, self->last_port);
    printf ("\n");
    port_table_print (table, stdout, suffix, s_note, (void *) self);
    port_table_counts_t counts;
    port_table_counts (table, &counts);
    port_table_destroy (&table);
    if (counts.open == 0)
        printf ("no open ports on %s%s\n", self->targets, suffix);
    double seconds = elapsed_ms / 1000.0;
    printf ("\n%zu results for %d ports: %zu open, %zu closed, %zu filtered, %zu failed\n",
            counts.results, probed, counts.open, counts.closed, counts.filtered,
            counts.failed + counts.stateless);
    printf ("throughput: %d tuples in %.2f s = %.0f tuples/s through broker, %d agents and sink\n",
            probed, seconds, seconds > 0? probed / seconds: 0.0, (int) self->agents);
    return counts.results == (size_t) probed? 0: 1;
}

//  Start the daemons, run the scan through `drover submit --wait`.
static int
s_run (demo_t *self)
{
    char frontend[64], backend[64], sink[64], intake[64];
    snprintf (frontend, sizeof frontend, "tcp://127.0.0.1:%d", free_port_pick ());
    snprintf (intake, sizeof intake, "tcp://127.0.0.1:%d", free_port_pick ());
    snprintf (backend, sizeof backend, "tcp://127.0.0.1:%d", free_port_pick ());
    snprintf (sink, sizeof sink, "tcp://127.0.0.1:%d", free_port_pick ());
    char log[PATH_MAX], results[PATH_MAX], data[PATH_MAX];
    snprintf (data, sizeof data, "%s/broker-data", self->dir);
    snprintf (results, sizeof results, "%s/results.jsonl", self->dir);

    if (s_make_keys (self))
        return 1;
    char producers[PATH_MAX], agents[PATH_MAX];
    snprintf (producers, sizeof producers, "%s/producers", self->dir);
    snprintf (agents, sizeof agents, "%s/agents", self->dir);
    //  Public keys may go in argv; secret keys go only in the environment.
    char *broker_key = (char *) keys_public_txt (self->broker_keys);
    char *sink_key = (char *) keys_public_txt (self->sink_keys);

    printf ("drover demo: broker %s, sink %s, %d agents; CURVE, sealed results; "
            "logs in %s\n", frontend, sink, (int) self->agents, self->dir);
    snprintf (log, sizeof log, "%s/broker.log", self->dir);
    s_start (self, log, self->broker_keys, (char *[]) { "drover", "broker",
             "--frontend", frontend, "--intake", intake, "--backend", backend,
             "--data-dir", data, "--allow-producers", producers,
             "--allow-agents", agents, NULL });
    snprintf (log, sizeof log, "%s/sink.log", self->dir);
    s_start (self, log, self->sink_keys, (char *[]) { "drover", "sink", "--bind", sink,
             "--output", results, "--allow-agents", agents, NULL });
    char threads[16];
    snprintf (threads, sizeof threads, "%u", self->threads);
    for (int i = 1; i <= (int) self->agents; i++) {
        char name[32];
        snprintf (name, sizeof name, "demo-agent-%d", i);
        snprintf (log, sizeof log, "%s/agent-%d.log", self->dir, i);
        char *argv[] = { "drover", "agent", "--broker", backend, "--name", name,
                         "--broker-key", broker_key,
                         self->threads? "--threads": NULL, threads, NULL };
        s_start (self, log, self->agent_keys[i - 1], argv);
    }
    int64_t started = s_now_ms ();
    pid_t submit = s_start (self, NULL, self->producer_keys, (char *[]) { "drover", "submit",
        "--broker", frontend, "--broker-key", broker_key, "--sink-key", sink_key,
        "--job", "demo-scan", "--handler", "tcp-probe", "--sink", sink,
        "--options", "{\"connect_timeout_ms\": 500}", "--wait",
        "--targets", (char *) self->targets, "--ports", (char *) self->ports, NULL });
    int status = -1;
    while (!s_interrupted) {
        pid_t rc = waitpid (submit, &status, WNOHANG);
        if (rc == submit)
            break;
        if (!s_children_alive (self))
            return 1;
        usleep (20000);
    }
    if (s_interrupted) {
        fprintf (stderr, "drover demo: interrupted; stopping\n");
        return 130;
    }
    int64_t elapsed = s_now_ms () - started;
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "drover demo: submit failed; logs in %s\n", self->dir);
        return 1;
    }
    return s_report (self, results, elapsed);
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

//  The scratch directory holds logs, results and the stores' directories.
static void
s_remove_dir (const char *dir)
{
    nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
s_demo (void *self_v, const options_t *options)
{
    demo_t *self = self_v;
    if (s_parse_ports (self))
        return options_usage_error (options, "--ports wants FIRST-LAST within 1-65535",
                                    self->ports);
    char err[256];
    if (s_parse_targets (self, err, sizeof err))
        return options_usage_error (options, "--targets", err);
    ssize_t len = readlink ("/proc/self/exe", self->self, sizeof self->self - 1);
    if (len <= 0) {
        fprintf (stderr, "drover demo: cannot find my own binary: %s\n", strerror (errno));
        return 1;
    }
    self->self[len] = 0;
    snprintf (self->dir, sizeof self->dir, "/tmp/drover-demo-XXXXXX");
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "drover demo: cannot create a scratch directory: %s\n", strerror (errno));
        return 1;
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    s_open_listeners (self);
    int rc = s_run (self);
    s_stop_children (self);
    s_destroy_keys (self);
    for (int i = 0; i < self->listener_count; i++)
        close (self->listeners[i]);
    if (self->keep || rc != 0)
        printf ("drover demo: logs and results kept in %s\n", self->dir);
    else
        s_remove_dir (self->dir);
    return rc;
}

int
cmd_demo (int argc, char **argv)
{
    demo_t self = { .targets = "127.0.0.1", .ports = "1-2048", .agents = 2 };
    return options_main (&s_spec, &self, argc, argv, s_demo);
}
