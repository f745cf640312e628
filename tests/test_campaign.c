//  test_campaign.c -- spec jobs (issue 11 item 1, PROTOCOL.md 10), black
//  box: a real broker, sink and agent on loopback, `drover submit
//  --targets --ports` and the echo handler only (the targets are never
//  contacted: echo hands the tuple back).  The sink's JSON Lines are
//  checked against an expansion written here with plain loops, not with
//  spec/: every (host, port) once, exclusions absent.
#include "support.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  Under AddressSanitizer the broker's RSS holds ASan's shadow and its
//  quarantine of freed memory (up to 256 MB): memory is not measured then.
#if defined (__SANITIZE_ADDRESS__)
#   define UNDER_ASAN 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define UNDER_ASAN 1
#   endif
#endif
#ifndef UNDER_ASAN
#   define UNDER_ASAN 0
#endif

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char broker_data[512], sink_data[512], results[512], broker_log[512];
    const char *exclude_file;       //  the broker's --exclude-file, or NULL
    bool wait;                      //  submit with --wait
    pid_t broker, sink_pid, agent;
} cluster_t;

static void
s_fini (void)
{
    support_kill_started ();
}

TestSuite (campaign, .fini = s_fini, .timeout = 300);

static void
s_cluster_init (cluster_t *c)
{
    c->dir = support_tmpdir ();
    cr_assert_not_null (c->dir);
    support_started_dir (c->dir);
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    snprintf (c->broker_data, sizeof c->broker_data, "%s/broker-data", c->dir);
    snprintf (c->sink_data, sizeof c->sink_data, "%s/sink-data", c->dir);
    snprintf (c->results, sizeof c->results, "%s/results.jsonl", c->dir);
    snprintf (c->broker_log, sizeof c->broker_log, "%s/broker.log", c->dir);
}

static void
s_broker_start (cluster_t *c)
{
    c->broker = support_spawn (c->broker_log, "broker", "--frontend", c->frontend,
                               "--intake", c->intake, "--backend", c->backend,
                               "--data-dir", c->broker_data, "--heartbeat-ms", "200",
                               "--log-level", "info",
                               c->exclude_file? "--exclude-file": NULL, c->exclude_file, NULL);
    cr_assert_gt (c->broker, 0);
    support_started (c->broker);
}

static void
s_start (cluster_t *c)
{
    char log[600];
    s_broker_start (c);
    snprintf (log, sizeof log, "%s/sink.log", c->dir);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results,
                                 "--data-dir", c->sink_data, NULL);
    cr_assert_gt (c->sink_pid, 0);
    support_started (c->sink_pid);
    snprintf (log, sizeof log, "%s/agent.log", c->dir);
    //  Slots to spare: a test of limits measures the broker, not a credit
    //  spent on tuples whose results wait for the sink's round trip.
    c->agent = support_spawn (log, "agent", "--broker", c->backend, "--name", "agent-1",
                              "--processes", "1", "--threads", "4", "--slots", "256", NULL);
    cr_assert_gt (c->agent, 0);
    support_started (c->agent);
}

static void
s_stop (cluster_t *c)
{
    support_stop (c->agent, SIGTERM, 5000);
    support_stop (c->sink_pid, SIGTERM, 5000);
    support_stop (c->broker, SIGTERM, 5000);
    support_rmdir (&c->dir);
}

//  `drover submit` of a spec with the echo handler; its exit status.
static int s_submit_options (cluster_t *c, const char *job, const char *targets,
                             const char *ports, const char *exclude,
                             const char *exclude_ports, const char *options);

static int
s_submit (cluster_t *c, const char *job, const char *targets, const char *ports,
          const char *exclude, const char *exclude_ports)
{
    return s_submit_options (c, job, targets, ports, exclude, exclude_ports, NULL);
}

static int
s_submit_options (cluster_t *c, const char *job, const char *targets, const char *ports,
                  const char *exclude, const char *exclude_ports, const char *options)
{
    char log[600];
    snprintf (log, sizeof log, "%s/submit.log", c->dir);
    char *argv[32] = { "submit", "--broker", c->frontend, "--job", (char *) job,
                       "--handler", "echo", "--sink", c->sink, "--targets", (char *) targets,
                       "--ports", (char *) ports, "--quiet", NULL };
    size_t argc = 14;
    if (exclude) {
        argv[argc++] = "--exclude";
        argv[argc++] = (char *) exclude;
    }
    if (exclude_ports) {
        argv[argc++] = "--exclude-ports";
        argv[argc++] = (char *) exclude_ports;
    }
    if (options) {
        argv[argc++] = "--options";
        argv[argc++] = (char *) options;
    }
    if (c->wait)
        argv[argc++] = "--wait";
    argv[argc] = NULL;
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    int status = support_stop (pid, 0, 30000);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  The input tuple of a result line: ["a.b.c.d", port].  0 or -1.
static int
s_input (const char *line, unsigned octets[4], unsigned *port)
{
    const char *input = strstr (line, "\"input\":");
    if (!input)
        return -1;
    int got = sscanf (input, "\"input\": [ \"%u.%u.%u.%u\" , %u ]", &octets[0], &octets[1],
                      &octets[2], &octets[3], port);
    return got == 5? 0: -1;
}

//  Count the results per (host, port) of 10.1.0.0/22 x ports 1..64 into
//  seen[host index][port] (host index: the last two octets), those with
//  status excluded into held[][]; lines of anything else in *other.
static void
s_tally (const char *path, const char *job, uint32_t (*seen)[65], uint32_t (*held)[65],
         size_t *other)
{
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line[4096], want[128];
    snprintf (want, sizeof want, "\"job\":\"%s\"", job);
    *other = 0;
    while (fgets (line, sizeof line, file)) {
        unsigned o[4], port;
        if (!strstr (line, want))
            continue;           //  another job's
        bool ok = strstr (line, "\"status\":\"ok\"");
        bool excluded = strstr (line, "\"status\":\"excluded\"");
        if ((!ok && !excluded)
        ||  s_input (line, o, &port) || o[0] != 10 || o[1] != 1 || o[2] > 3
        ||  o[3] > 255 || port < 1 || port > 64) {
            (*other)++;
            continue;
        }
        (ok? seen: held)[o[2] * 256 + o[3]][port]++;
    }
    fclose (file);
}

//  Whether (host index, port) is a tuple of the spec of the test.
typedef bool (expected_fn) (unsigned host, unsigned port);

//  The expansion, by hand: every pair of 10.1.0.0/22 x 1-64 that expected
//  takes, and those held_fn takes (NULL: none), which the broker's
//  exclusion list holds back.  Asserts each expected pair was seen once
//  with status ok, each held back once with status excluded, no other.
static void
s_check_held (const char *path, const char *job, expected_fn *is_expected,
              expected_fn *held_fn)
{
    static uint32_t seen[1024][65], held[1024][65];
    memset (seen, 0, sizeof seen);
    memset (held, 0, sizeof held);
    size_t other;
    s_tally (path, job, seen, held, &other);
    cr_assert_eq (other, 0, "%zu lines that are not a tuple of the spec", other);
    size_t missing = 0, duplicated = 0, excluded = 0, held_wrong = 0;
    for (unsigned host = 0; host < 1024; host++)
        for (unsigned port = 1; port <= 64; port++) {
            bool expected = is_expected (host, port);
            bool held_back = !expected && held_fn && held_fn (host, port);
            held_wrong += held[host][port] != (held_back? 1: 0);
            if (!expected)
                excluded += seen[host][port];
            else
            if (seen[host][port] == 0)
                missing++;
            else
            if (seen[host][port] > 1)
                duplicated++;
        }
    cr_assert_eq (excluded, 0, "%zu results of excluded tuples", excluded);
    cr_assert_eq (missing, 0, "%zu (host, port) missing", missing);
    cr_assert_eq (duplicated, 0, "%zu (host, port) more than once", duplicated);
    cr_assert_eq (held_wrong, 0, "%zu (host, port) not stored once as excluded (or stored "
                  "so and not held back)", held_wrong);
}

static void
s_check (const char *path, const char *job, expected_fn *expected_fn)
{
    s_check_held (path, job, expected_fn, NULL);
}

//  A tuple of the spec 10.1.0.0/22 x 1-8.
static bool
s_fenced_spec (unsigned host, unsigned port)
{
    (void) host;
    return port <= 8;
}

//  10.1.0.0/22 minus 10.1.1.0/24, ports 1-64 minus 7.
static bool
s_small (unsigned host, unsigned port)
{
    return host / 256 != 1 && port != 7;
}

static void
s_check_exact (const char *path, const char *job)
{
    s_check (path, job, s_small);
}

#define SMALL_TUPLES (768 * 63)

Test (campaign, spec_runs_every_tuple_once)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    cr_assert_eq (s_submit (&c, "small", "10.1.0.0/22", "1-64", "10.1.1.0/24", "7"), 0);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= SMALL_TUPLES, 120000),
               "%zu results of %d", support_count_lines (c.results), SMALL_TUPLES);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job small complete") == 1,
                             10000));
    cr_assert_eq (support_count_lines (c.results), SMALL_TUPLES);
    s_check_exact (c.results, "small");
    //  The same SUBMIT again is answered as the first; another spec under
    //  the name is a conflict.
    cr_assert_eq (s_submit (&c, "small", "10.1.0.0/22", "1-64", "10.1.1.0/24", "7"), 0);
    cr_assert_neq (s_submit (&c, "small", "10.1.0.0/22", "1-65", NULL, NULL), 0);
    s_stop (&c);
}

static long
s_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (file)
        fclose (file);
    return kb;
}

static long
s_dir_kb (const char *dir, const char *name)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat (path, &st) == 0? (long) (st.st_blocks / 2): -1;
}

//  A /16 x 1,000 ports (65,536,000 tuples) costs the broker what an empty
//  one costs, give or take a window of tuples, and starts at once.
Test (campaign, big_spec_is_lazy)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "joined") >= 1, 10000));
    long empty_kb = s_rss_kb (c.broker);
    cr_assert_gt (empty_kb, 0);
    int64_t started = support_now_ms ();
    cr_assert_eq (s_submit (&c, "big", "10.20.0.0/16", "1-1000", NULL, NULL), 0);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > 0, 5000));
    int64_t first_ms = support_now_ms () - started;
    cr_assert_lt (first_ms, 1000, "first result after %lld ms", (long long) first_ms);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > 50000, 60000));
    long busy_kb = s_rss_kb (c.broker);
    long data_kb = s_dir_kb (c.broker_data, "data.mdb");
    cr_log_info ("broker RSS %ld kB empty, %ld kB with the spec running; data file %ld kB; "
                 "first result after %lld ms", empty_kb, busy_kb, data_kb,
                 (long long) first_ms);
    if (!UNDER_ASAN)
        cr_assert_lt (busy_kb - empty_kb, 8 * 1024, "RSS %ld kB, empty %ld kB", busy_kb,
                      empty_kb);
    cr_assert_lt (data_kb, 8 * 1024, "data file %ld kB", data_kb);
    s_stop (&c);
}

//  kill -9 of the broker mid-spec: the restarted one goes on from the
//  stored cursor, and the sink ends with every (host, port) once.
Test (campaign, broker_kill_resumes)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    //  Paced to about 6 s: unpaced, echo ran the whole job in 1.3 s, and a
    //  test process starved for a moment under load killed the broker
    //  after the job had finished.
    cr_assert_eq (s_submit_options (&c, "resume", "10.1.0.0/22", "1-64", "10.1.1.0/24", "7",
                                    "{\"limit\": {\"key\": \"job\", \"rate\": 8000, "
                                    "\"burst\": 256}}"), 0);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > SMALL_TUPLES / 4, 60000));
    support_stop (c.broker, SIGKILL, 1000);
    size_t at_kill = support_count_lines (c.results);
    cr_assert_lt (at_kill, SMALL_TUPLES, "the job finished before the kill");
    s_broker_start (&c);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job resume complete") == 1,
                             120000));
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= SMALL_TUPLES, 10000));
    cr_log_info ("%zu of %d results before the kill", at_kill, SMALL_TUPLES);
    s_check_exact (c.results, "resume");
    s_stop (&c);
}

//  The broker's --exclude-file: 10.1.2.0/24 and 10.1.0.5 never reach an
//  agent, whatever the spec says; the job completes all the same.
static bool
s_outside_list (unsigned host, unsigned port)
{
    return host / 256 != 2 && host != 5 && port <= 8;
}

//  After the list is rewritten to 10.1.3.0/24.
static bool
s_outside_new_list (unsigned host, unsigned port)
{
    return host / 256 != 3 && port <= 8;
}

static void
s_write (const char *path, const char *text)
{
    char tmp[600];
    snprintf (tmp, sizeof tmp, "%s.new", path);
    FILE *file = fopen (tmp, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    cr_assert_eq (fclose (file), 0);
    cr_assert_eq (rename (tmp, path), 0);
}

Test (campaign, broker_exclusion_list)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    char list[600];
    snprintf (list, sizeof list, "%s/excluded.txt", c.dir);
    s_write (list, "# management\n10.1.2.0/24\n10.1.0.5   # the router\n");
    c.exclude_file = list;
    s_start (&c);
    cr_assert_eq (s_submit (&c, "fenced", "10.1.0.0/22", "1-8", NULL, NULL), 0);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job fenced complete") == 1,
                             60000));
    //  Every tuple has a result: the excluded ones say so, and never ran.
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) == 1024 * 8, 10000),
               "%zu results", support_count_lines (c.results));
    s_check_held (c.results, "fenced", s_outside_list, s_fenced_spec);
    cr_assert_eq (support_count_text (c.results, "\"started_us\":0,"), 257 * 8);
    //  Rewritten: read again, and the next job meets the new list.
    s_write (list, "10.1.3.0/24\n");
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "read again") == 1, 10000));
    cr_assert_eq (s_submit (&c, "fenced-2", "10.1.0.0/22", "1-8", NULL, NULL), 0);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job fenced-2 complete") == 1,
                             60000));
    s_check_held (c.results, "fenced-2", s_outside_new_list, s_fenced_spec);
    s_stop (&c);
}

//  Agents with labels site=a and site=b: a job that requires site=a runs
//  only on agent-a, one requiring site=c on neither.
static pid_t
s_labelled_agent (cluster_t *c, const char *name, const char *label)
{
    char log[600];
    snprintf (log, sizeof log, "%s/%s.log", c->dir, name);
    pid_t pid = support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                               "--processes", "1", "--threads", "2", "--label", label, NULL);
    cr_assert_gt (pid, 0);
    support_started (pid);
    return pid;
}

Test (campaign, labels_route_jobs)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    support_stop (c.agent, SIGTERM, 5000);
    pid_t a = s_labelled_agent (&c, "agent-a", "site=a,zone=dmz");
    pid_t b = s_labelled_agent (&c, "agent-b", "site=b");
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "labels ,site=b,") == 1, 10000));
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "labels ,site=a,zone=dmz,") == 1,
                             10000));
    cr_assert_eq (s_submit_options (&c, "nowhere", "10.3.0.0/24", "1-4", NULL, NULL,
                                    "{\"requires\": {\"site\": \"c\"}}"), 0);
    cr_assert_eq (s_submit_options (&c, "only-a", "10.1.0.0/24", "1-4", NULL, NULL,
                                    "{\"requires\": {\"site\": \"a\"}}"), 0);
    cr_assert_eq (s_submit_options (&c, "only-b", "10.2.0.0/24", "1-4", NULL, NULL,
                                    "{\"requires\": {\"site\": \"b\", \"zone\": \"dmz\"}}"),
                  0);
    cr_assert_eq (s_submit_options (&c, "any", "10.4.0.0/24", "1-4", NULL, NULL, NULL), 0);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job only-a complete") == 1,
                             60000));
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job any complete") == 1,
                             60000));
    cr_assert_eq (support_count_text (c.results, "\"job\":\"only-a\""), 1024);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"only-a\",\"tuple\""), 1024);
    size_t on_a = 0;
    FILE *file = fopen (c.results, "r");
    char line[4096];
    while (file && fgets (line, sizeof line, file))
        if (strstr (line, "\"job\":\"only-a\"") && strstr (line, "\"agent\":\"agent-a\""))
            on_a++;
    if (file)
        fclose (file);
    cr_assert_eq (on_a, 1024, "%zu of only-a's results from agent-a", on_a);
    //  site=b without zone=dmz, and site=c: nobody fits.
    cr_assert_eq (support_count_text (c.results, "\"job\":\"only-b\""), 0);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"nowhere\""), 0);
    //  each: once per site present, as jobs each@site=a and each@site=b;
    //  --wait follows them through the parent's STATUS.
    c.wait = true;
    cr_assert_eq (s_submit_options (&c, "each", "10.5.0.0/28", "1-4", NULL, NULL,
                                    "{\"each\": \"site\"}"), 0);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"each@site=a\",\"tuple\""), 64);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"each@site=b\",\"tuple\""), 64);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"each@site=a\",\"tuple\":1,"
                                      "\"attempt\":1,\"agent\":\"agent-a\""), 1);
    cr_assert_eq (support_count_text (c.results, "\"job\":\"each@site=b\",\"tuple\":1,"
                                      "\"attempt\":1,\"agent\":\"agent-b\""), 1);
    //  Each result carries its agent's labels, all of them.
    cr_assert_eq (support_count_text (c.results, "\"agent\":\"agent-a\",\"labels\":"
                                      "{\"site\":\"a\",\"zone\":\"dmz\"},"),
                  support_count_text (c.results, "\"agent\":\"agent-a\""));
    cr_assert_eq (support_count_text (c.results, "\"job\":\"each@site=b\",\"tuple\":1,"
                                      "\"attempt\":1,\"agent\":\"agent-b\",\"labels\":"
                                      "{\"site\":\"b\"}"), 1);
    cr_assert_neq (s_submit_options (&c, "each-zone", "10.5.0.0/28", "1-4", NULL, NULL,
                                     "{\"each\": \"rack\"}"), 0, "no agent has a rack");
    support_stop (a, SIGTERM, 5000);
    support_stop (b, SIGTERM, 5000);
    s_stop (&c);
}

//  ---------------------------------------------------------------------
//  Limits per key (PROTOCOL.md 10.4), measured from the sink's records

//  A job's results: input host (or first element as text) and start and
//  duration in microseconds.
typedef struct {
    char key[64];
    int64_t started, duration;
} run_t;

static size_t
s_runs (const char *path, const char *job, run_t *runs, size_t max)
{
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line[4096], want[128];
    snprintf (want, sizeof want, "\"job\":\"%s\"", job);
    size_t n = 0;
    while (n < max && fgets (line, sizeof line, file)) {
        const char *started = strstr (line, "\"started_us\":");
        const char *duration = strstr (line, "\"duration_us\":");
        const char *input = strstr (line, "\"input\":[");
        if (!strstr (line, want) || !started || !duration || !input)
            continue;
        run_t *run = &runs[n++];
        run->started = strtoll (started + 13, NULL, 10);
        run->duration = strtoll (duration + 14, NULL, 10);
        input += 9;
        size_t len = strcspn (input, ",]");
        snprintf (run->key, sizeof run->key, "%.*s", (int) len, input);
    }
    fclose (file);
    return n;
}

//  `drover submit` of JSON lines with the handler and options.
static int
s_submit_lines (cluster_t *c, const char *job, const char *handler, const char *lines,
                const char *options)
{
    char input[600], log[600];
    snprintf (input, sizeof input, "%s/%s.jsonl", c->dir, job);
    snprintf (log, sizeof log, "%s/submit.log", c->dir);
    FILE *file = fopen (input, "w");
    cr_assert_not_null (file);
    fputs (lines, file);
    fclose (file);
    pid_t pid = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", handler, "--sink", c->sink, "--options", options,
                               "--quiet", input, NULL);
    cr_assert_gt (pid, 0);
    int status = support_stop (pid, 0, 30000);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  200 a second per host over 4 hosts: each host within 10% of 200/s
//  (from the agent's start times), the job at about 800/s.  A burst of 40
//  lets the broker wake up to 200 ms late without losing rate: with 10
//  (50 ms), a broker starved on a loaded machine fell to 175/s.
static int
s_cmp_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

//  Starts per second over the later half of count start times (us).
static double
s_half_rate (int64_t *starts, size_t count)
{
    qsort (starts, count, sizeof *starts, s_cmp_int64);
    size_t from = count / 2 - 1;
    return (double) (count - 1 - from) / ((double) (starts[count - 1] - starts[from]) / 1e6);
}

Test (campaign, rate_per_host)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    cr_assert_eq (s_submit_options (&c, "rated", "10.1.0.0/30", "1-300", NULL, NULL,
                                    "{\"limit\": {\"key\": \"host\", \"rate\": 200, "
                                    "\"burst\": 40}}"), 0);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job rated complete") == 1,
                             60000));
    static run_t runs[1200];
    size_t n = s_runs (c.results, "rated", runs, 1200);
    cr_assert_eq (n, 1200);
    //  The rate over the second half of each host's start times (sorted):
    //  the first burst (40) is long spent, and an agent that starts late
    //  (a loaded machine) bunches the first starts, which would shorten a
    //  span measured from the first one.
    static int64_t all[1200];
    for (size_t i = 0; i < n; i++)
        all[i] = runs[i].started;
    for (unsigned host = 0; host < 4; host++) {
        char key[32];
        snprintf (key, sizeof key, "\"10.1.0.%u\"", host);
        int64_t starts[300];
        size_t count = 0;
        for (size_t i = 0; i < n && count < 300; i++)
            if (!strcmp (runs[i].key, key))
                starts[count++] = runs[i].started;
        cr_assert_eq (count, 300);
        double rate = s_half_rate (starts, count);
        cr_log_info ("host %s: %.1f tuples/s", key, rate);
        cr_assert (rate > 180 && rate < 220, "host %s at %.1f/s", key, rate);
    }
    double job_rate = s_half_rate (all, n);
    cr_log_info ("job: %.1f tuples/s", job_rate);
    cr_assert (job_rate > 720 && job_rate < 880, "job at %.1f/s", job_rate);
    s_stop (&c);
}

//  The most runs of key overlapping at any moment.
static size_t
s_overlap (const run_t *runs, size_t n, const char *key)
{
    size_t most = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp (runs[i].key, key))
            continue;
        size_t at = 0;
        for (size_t j = 0; j < n; j++)
            if (!strcmp (runs[j].key, key) && runs[j].started <= runs[i].started
            &&  runs[j].started + runs[j].duration > runs[i].started)
                at++;
        most = at > most? at: most;
    }
    return most;
}

//  At most 2 tuples of a key at once (key: the sleep handler's [ms]),
//  on an agent with 8 threads; and a key at its limit does not hold up
//  another whose tuples were queued behind it.
Test (campaign, concurrency_per_key_without_head_of_line_blocking)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_start (&c);
    char lines[4096] = "";
    for (int i = 0; i < 24; i++)
        strcat (lines, "[60]\n");
    for (int i = 0; i < 24; i++)
        strcat (lines, "[61]\n");
    cr_assert_eq (s_submit_lines (&c, "slept", "sleep", lines,
                                  "{\"limit\": {\"key\": 0, \"concurrency\": 2}}"), 0);
    cr_assert (SUPPORT_WAIT (support_count_text (c.broker_log, "job slept complete") == 1,
                             60000));
    static run_t runs[48];
    size_t n = s_runs (c.results, "slept", runs, 48);
    cr_assert_eq (n, 48);
    size_t a = s_overlap (runs, n, "60"), b = s_overlap (runs, n, "61");
    cr_log_info ("most at once: key 60 %zu, key 61 %zu", a, b);
    cr_assert_leq (a, 2);
    cr_assert_leq (b, 2);
    cr_assert_eq (a, 2, "the limit, not less, when the agent has room");
    //  [61] started while [60] still had most of its tuples to run.
    int64_t first_61 = INT64_MAX, last_60 = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp (runs[i].key, "61"))
            first_61 = runs[i].started < first_61? runs[i].started: first_61;
        else
            last_60 = runs[i].started > last_60? runs[i].started: last_60;
    cr_assert_lt (first_61, last_60 - 500000, "key 61 waited for key 60");
    s_stop (&c);
}
