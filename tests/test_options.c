//  test_options.c -- cli/options.c and cli/option_value.c: one table read
//  from flags, the environment and a config file with flags > environment >
//  file > defaults; types, limits and their errors; --help.  Then the real
//  `drover` binary: usage errors and --config end to end.
#include "cli/options.h"
#include "cli/option_value.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  A command's struct and table, with names no real command has, so the
//  variables (DROVER_TEST_...) cannot come from the environment tests run in.
typedef struct {
    const char *name;
    const char *store;
    uint32_t count;
    uint64_t size;
    uint32_t wait_ms;
    int grace_ms;
    bool loud;
    const char *cert;
    const char *input;
    const char *log_level;
} args_t;

#define AT(field) OPTION_AT (args_t, field)

static const char *const s_stores[] = { "lmdb", "memory", NULL };

static const option_t s_options[] = {
    { "test-name", 'n', OPTION_STRING, AT (name), "NAME", .help = "a name" },
    { "test-store", 0, OPTION_CHOICE, AT (store), "KIND", .choices = s_stores,
      .help = "a choice" },
    { "test-count", 'c', OPTION_NUMBER, AT (count), "N", 1, 100, .help = "a number" },
    { "test-size", 0, OPTION_SIZE, AT (size), "SIZE", 1, UINT64_MAX, .help = "a size" },
    { "test-wait", 0, OPTION_DURATION, AT (wait_ms), "DURATION", 1, 86400000,
      .help = "a duration" },
    { "test-grace", 0, OPTION_DURATION, AT (grace_ms), "DURATION", 0, 60000,
      .help = "grace" },
    { "test-grace-ms", 0, OPTION_NUMBER, AT (grace_ms), "MS", 0, 60000, .default_text = "",
      .help = "grace in ms" },
    { "test-loud", 'l', OPTION_BOOL, AT (loud), .help = "a switch" },
    { "test-cert", 0, OPTION_STRING, AT (cert), "PATH", .flags = OPTION_EMPTY_UNSET,
      .help = "empty is unset" },
    OPTION_LOG_LEVEL (args_t, log_level),
    { "test-input", 0, OPTION_STRING, AT (input), "FILE",
      .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY, .help = "an argument" },
};

//  "sink": [sink] is this table's section, [broker] another command's.
static const options_spec_t s_spec = {
    .command = "sink", .usage = "[OPTIONS] [FILE]", .about = "A test table.\n",
    .notes = "Notes last.\n", OPTIONS_TABLE (s_options),
};

static const char *s_variables[] = {
    "DROVER_TEST_NAME", "DROVER_TEST_STORE", "DROVER_TEST_COUNT", "DROVER_TEST_SIZE",
    "DROVER_TEST_WAIT", "DROVER_TEST_GRACE", "DROVER_TEST_GRACE_MS", "DROVER_TEST_LOUD",
    "DROVER_TEST_CERT", "DROVER_TEST_INPUT", "DROVER_CONFIG", "DROVER_LOG_LEVEL",
};

static char *s_dir;

static void
s_setup (void)
{
    for (size_t i = 0; i < sizeof s_variables / sizeof s_variables[0]; i++)
        unsetenv (s_variables[i]);
    s_dir = support_tmpdir ();
    cr_assert_not_null (s_dir);
}

static void
s_teardown (void)
{
    support_rmdir (&s_dir);
}

static args_t
s_defaults (void)
{
    return (args_t) { .store = "lmdb", .count = 4, .size = 4 << 20, .wait_ms = 10000,
                      .grace_ms = 30000, .log_level = "info" };
}

//  A file in the scratch directory with text; the path is in a static buffer.
static const char *
s_file (const char *name, const char *text)
{
    static char path[600];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    return path;
}

typedef struct {
    int rc;
    char *out;                  //  what it printed on stdout, stderr
    char *err;
} parsed_t;

//  Parse argv (NULL-terminated, "sink" first) into *args with stdout and
//  stderr captured.  The options_t is kept in *options_p if asked for.
static parsed_t
s_parse (args_t *args, char **argv, options_t **options_p)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char out_path[600], err_path[600];
    snprintf (out_path, sizeof out_path, "%s/out", s_dir);
    snprintf (err_path, sizeof err_path, "%s/err", s_dir);
    fflush (stdout);
    fflush (stderr);
    int saved_out = dup (STDOUT_FILENO), saved_err = dup (STDERR_FILENO);
    int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert (out >= 0 && err >= 0);
    dup2 (out, STDOUT_FILENO);
    dup2 (err, STDERR_FILENO);
    options_t *options = options_new (&s_spec);
    parsed_t parsed = { .rc = options? options_parse (options, args, argc, argv): 99 };
    fflush (stdout);
    fflush (stderr);
    dup2 (saved_out, STDOUT_FILENO);
    dup2 (saved_err, STDERR_FILENO);
    close (out), close (err), close (saved_out), close (saved_err);
    parsed.out = support_slurp (out_path);
    parsed.err = support_slurp (err_path);
    if (options_p)
        *options_p = options;
    else
        options_destroy (&options);
    return parsed;
}

static void
s_free (parsed_t *parsed)
{
    free (parsed->out);
    free (parsed->err);
}

//  Parse and expect a usage error whose message holds says.
static void
s_expect_error (char **argv, const char *says)
{
    args_t args = s_defaults ();
    parsed_t parsed = s_parse (&args, argv, NULL);
    cr_expect_eq (parsed.rc, 2, "%s: rc %d", says, parsed.rc);
    cr_expect (strstr (parsed.err, says), "expected \"%s\" in: %s", says, parsed.err);
    cr_expect (strstr (parsed.err, "try 'drover sink --help'"), "%s", parsed.err);
    s_free (&parsed);
}

TestSuite (options, .init = s_setup, .fini = s_teardown);

Test (options, nothing_given_keeps_the_defaults)
{
    args_t args = s_defaults ();
    options_t *options = NULL;
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", NULL }, &options);
    cr_assert_eq (parsed.rc, -1, "%s", parsed.err);
    args_t defaults = s_defaults ();     //  field by field: padding may differ
    cr_expect (args.name == defaults.name && args.store == defaults.store
               && args.count == defaults.count && args.size == defaults.size
               && args.wait_ms == defaults.wait_ms && args.grace_ms == defaults.grace_ms
               && args.loud == defaults.loud && args.cert == defaults.cert
               && args.input == defaults.input && args.log_level == defaults.log_level);
    cr_expect_eq (options_source (options, "test-count"), OPTION_FROM_DEFAULT);
    cr_expect_str_empty (parsed.err);
    options_destroy (&options);
    s_free (&parsed);
}

Test (options, flags_of_every_type)
{
    args_t args = s_defaults ();
    options_t *options = NULL;
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "-n", "x", "--test-store=MEMORY",
        "-c", "100", "--test-size", "2MiB", "--test-wait", "1.5", "-l", "in.jsonl",
        "--test-grace", "250ms", "--log-level", "Debug", NULL }, &options);
    cr_assert_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_str_eq (args.name, "x");
    cr_expect_str_eq (args.store, "memory", "stored as the choice spells it");
    cr_expect_eq (args.count, 100);
    cr_expect_eq (args.size, 2u << 20);
    cr_expect_eq (args.wait_ms, 1500);
    cr_expect_eq (args.grace_ms, 250);
    cr_expect (args.loud);
    cr_expect_str_eq (args.input, "in.jsonl", "the argument, wherever it stands");
    cr_expect_str_eq (args.log_level, "debug");
    cr_expect_eq (options_source (options, "test-count"), OPTION_FROM_FLAG);
    options_destroy (&options);
    s_free (&parsed);
}

Test (options, environment_and_the_flag_that_wins_over_it)
{
    setenv ("DROVER_TEST_COUNT", "7", 1);
    setenv ("DROVER_TEST_NAME", "from-env", 1);
    setenv ("DROVER_TEST_LOUD", "yes", 1);
    setenv ("DROVER_TEST_STORE", "", 1);        //  empty: as if unset
    setenv ("DROVER_TEST_INPUT", "not-read", 1); //  an argument only
    args_t args = s_defaults ();
    options_t *options = NULL;
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "--test-name", "flag", NULL },
                               &options);
    cr_assert_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_eq (args.count, 7);
    cr_expect_str_eq (args.name, "flag");
    cr_expect (args.loud);
    cr_expect_str_eq (args.store, "lmdb");
    cr_expect_null (args.input);
    cr_expect_eq (options_source (options, "test-count"), OPTION_FROM_ENV);
    cr_expect_eq (options_source (options, "test-name"), OPTION_FROM_FLAG);
    options_destroy (&options);
    s_free (&parsed);
    //  A bad value the flag overrides is never read; one that is used names
    //  the variable.
    setenv ("DROVER_TEST_COUNT", "lots", 1);
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", "-c", "3", NULL }, NULL);
    cr_expect_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_eq (args.count, 3);
    s_free (&parsed);
    s_expect_error ((char *[]) { "sink", NULL },
                    "DROVER_TEST_COUNT must be a whole number from 1 to 100: lots");
    setenv ("DROVER_TEST_COUNT", "1", 1);
    setenv ("DROVER_TEST_LOUD", "loud", 1);
    s_expect_error ((char *[]) { "sink", NULL }, "DROVER_TEST_LOUD must be 1 or 0");
}

Test (options, config_file_under_environment_and_flags)
{
    const char *path = s_file ("drover.conf",
        "# every command\n"
        "test-count = 5\n"
        "  test-size=3K  \r\n"
        "\n"
        "[broker]\n"
        "not-ours = ignored: another command's section\n"
        "[ sink ]\n"
        "test-size = 1G\n"
        "test-name = a name = with equals\n"
        "test-loud = false\n"
        "test-wait = 20s\n"
        "test-cert =\n");
    setenv ("DROVER_TEST_WAIT", "2", 1);
    args_t args = s_defaults ();
    args.loud = true;
    options_t *options = NULL;
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "--config", (char *) path,
        "--test-count", "6", NULL }, &options);
    cr_assert_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_eq (args.count, 6, "the flag wins over the file");
    cr_expect_eq (args.size, 1ull << 30, "the section wins over the top");
    cr_expect_str_eq (args.name, "a name = with equals", "the value is the rest of the line");
    cr_expect_not (args.loud, "a file can turn a switch off");
    cr_expect_eq (args.wait_ms, 2000, "the environment wins over the file");
    cr_expect_null (args.cert, "empty is unset where the table says so");
    cr_expect_eq (options_source (options, "test-size"), OPTION_FROM_FILE);
    cr_expect_eq (options_source (options, "test-wait"), OPTION_FROM_ENV);
    options_destroy (&options);
    s_free (&parsed);
    //  DROVER_CONFIG names the file when --config does not.
    unsetenv ("DROVER_TEST_WAIT");
    setenv ("DROVER_CONFIG", path, 1);
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", NULL }, NULL);
    cr_expect_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_eq (args.count, 5);
    cr_expect_eq (args.wait_ms, 20000);
    s_free (&parsed);
    const char *other = s_file ("other.conf", "test-count = 9\n");
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", "--config", (char *) other, NULL }, NULL);
    cr_expect_eq (args.count, 9, "--config wins over DROVER_CONFIG");
    s_free (&parsed);
}

Test (options, config_file_errors_name_the_line)
{
    struct { const char *text; const char *says; } cases[] = {
        { "test-count = 0\n", "bad.conf:1: test-count must be a whole number from 1 to 100: 0" },
        { "# ok\n[sink]\nnope = 1\n", "bad.conf:3: drover sink has no option nope" },
        { "nope = 1\n", "(a key before any [section] is for every command" },
        { "[sinks]\n", "bad.conf:1: unknown section [sinks]; sections are commands: broker" },
        { "[sink\n", "bad.conf:1: a section is [name]" },
        { "just words\n", "bad.conf:1: expected key = value, [section] or # comment" },
        { "[broker]\nno equals here\n", "bad.conf:2: expected key = value" },
        { "= 1\n", "bad.conf:1: expected key = value" },
        { "test-name = a\ntest-name = b\n", "bad.conf:2: test-name is set already, at line 1" },
        { "test-name =\n", "bad.conf:1: test-name needs a value" },
        { "test-input = x\n", "has no option test-input" },
        { "config = other.conf\n", "has no option config" },
        { "test-store = disk\n", "test-store must be lmdb or memory: disk" },
        { "test-wait = 1w\n", "test-wait must be a duration" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = s_file ("bad.conf", cases[i].text);
        s_expect_error ((char *[]) { "sink", "--config", (char *) path, NULL }, cases[i].says);
    }
    //  The file is checked line by line: a bad line is an error even where
    //  a flag overrides it.
    const char *path = s_file ("bad.conf", "test-count = x\n");
    s_expect_error ((char *[]) { "sink", "-c", "2", "--config", (char *) path, NULL },
                    "bad.conf:1: test-count must be");
    char missing[700];
    snprintf (missing, sizeof missing, "%s/missing.conf", s_dir);
    s_expect_error ((char *[]) { "sink", "--config", missing, NULL },
                    "cannot read config file");
    s_expect_error ((char *[]) { "sink", "--config", s_dir, NULL }, "cannot read config file");
}

Test (options, limits_and_their_errors)
{
    struct { char *argv[4]; const char *says; } cases[] = {
        { { "sink", "-c", "101" }, "--test-count must be a whole number from 1 to 100: 101" },
        { { "sink", "-c", "-1" }, "--test-count must be" },
        { { "sink", "-c", " 5" }, "--test-count must be" },
        { { "sink", "-c", "" }, "--test-count needs a value" },
        { { "sink", "--test-size", "0" }, "--test-size must be a size (bytes, or a number "
          "followed by K, M or G), at least 1: 0" },
        { { "sink", "--test-size", "3T" }, "--test-size must be" },
        { { "sink", "--test-wait", "0.0001" }, "--test-wait must be a duration (seconds, or a "
          "number followed by ms, s, m, h or d) from 1ms to 86400s: 0.0001" },
        { { "sink", "--test-wait", "nan" }, "--test-wait must be" },
        { { "sink", "--test-wait", "5w" }, "--test-wait must be" },
        { { "sink", "--test-wait", "25h" }, "--test-wait must be" },
        { { "sink", "--test-store", "disk" }, "--test-store must be lmdb or memory: disk" },
        { { "sink", "--log-level", "loud" }, "--log-level must be debug, info, warn or error" },
        { { "sink", "--test-name", "" }, "--test-name needs a value" },
        { { "sink", "--bogus" }, "unknown option: --bogus" },
        { { "sink", "-x" }, "unknown option" },
        { { "sink", "--test-count" }, "option needs a value: --test-count" },
        { { "sink", "a", "b" }, "unexpected argument: b" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect_error (cases[i].argv, cases[i].says);
    uint64_t value = 0;
    cr_expect_eq (option_value_number ("4K", 0, UINT64_MAX, true, &value), 0);
    cr_expect_eq (value, 4096);
    cr_expect_eq (option_value_number ("4K", 0, UINT64_MAX, false, &value), -1);
    cr_expect_eq (option_value_number ("2G", 0, 1ull << 30, true, &value), -1);
    cr_expect_eq (option_value_number ("99999999999999999999", 0, UINT64_MAX, false, &value), -1);
    cr_expect_eq (option_value_duration ("30", 0, 60000, &value), 0);
    cr_expect_eq (value, 30000);
    cr_expect_eq (option_value_duration ("1500ms", 0, 60000, &value), 0);
    cr_expect_eq (value, 1500);
    cr_expect_eq (option_value_duration ("61s", 0, 60000, &value), -1);
    cr_expect_eq (option_value_duration ("15m", 0, UINT64_MAX, &value), 0);
    cr_expect_eq (value, 900000);
    cr_expect_eq (option_value_duration ("2h", 0, UINT64_MAX, &value), 0);
    cr_expect_eq (value, 7200000);
    cr_expect_eq (option_value_duration ("1d", 0, UINT64_MAX, &value), 0);
    cr_expect_eq (value, 86400000);
    cr_expect_eq (option_value_duration ("1.5m", 0, UINT64_MAX, &value), 0);
    cr_expect_eq (value, 90000);
    cr_expect_eq (option_value_duration ("2w", 0, UINT64_MAX, &value), -1);
    cr_expect_eq (option_value_bool ("On"), 1);
    cr_expect_eq (option_value_bool ("FALSE"), 0);
    cr_expect_eq (option_value_bool ("maybe"), -1);
}

//  --grace and --grace-ms fill one field: the higher layer wins, and
//  within a layer the later (on the command line) or the later in the table
//  (in the environment).
Test (options, two_options_for_one_value)
{
    args_t args = s_defaults ();
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "--test-grace-ms", "100",
        "--test-grace", "2", NULL }, NULL);
    cr_expect_eq (args.grace_ms, 2000);
    s_free (&parsed);
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", "--test-grace", "2",
        "--test-grace-ms", "100", NULL }, NULL);
    cr_expect_eq (args.grace_ms, 100);
    s_free (&parsed);
    setenv ("DROVER_TEST_GRACE", "3", 1);
    setenv ("DROVER_TEST_GRACE_MS", "300", 1);
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", NULL }, NULL);
    cr_expect_eq (args.grace_ms, 300);
    s_free (&parsed);
    args = s_defaults ();
    parsed = s_parse (&args, (char *[]) { "sink", "--test-grace", "4", NULL }, NULL);
    cr_expect_eq (args.grace_ms, 4000, "a flag wins over both variables");
    s_free (&parsed);
}

Test (options, empty_flag_is_unset_where_the_table_says)
{
    setenv ("DROVER_TEST_CERT", "from-env", 1);
    args_t args = s_defaults ();
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "--test-cert", "", NULL }, NULL);
    cr_expect_eq (parsed.rc, -1, "%s", parsed.err);
    cr_expect_str_eq (args.cert, "from-env");
    s_free (&parsed);
}

Test (options, help_says_where_each_value_comes_from)
{
    args_t args = s_defaults ();
    parsed_t parsed = s_parse (&args, (char *[]) { "sink", "-c", "x", "--help", NULL }, NULL);
    cr_expect_eq (parsed.rc, 0, "--help ends the parse, before values are read");
    const char *out = parsed.out;
    const char *expected[] = {
        "usage: drover sink [OPTIONS] [FILE]\n\nA test table.\n",
        "arguments:\n  FILE\n          an argument\n",
        "a flag wins over its environment variable",
        "  -n, --test-name NAME  [DROVER_TEST_NAME]\n          a name\n",
        "      --test-store KIND  [DROVER_TEST_STORE]\n          a choice (default lmdb)\n",
        "  -c, --test-count N  [DROVER_TEST_COUNT]\n          a number (default 4)\n",
        "      --test-size SIZE  [DROVER_TEST_SIZE]\n          a size (default 4M)\n",
        "a duration (default 10s)\n", "grace (default 30s)\n", "grace in ms\n",
        "  -l, --test-loud  [DROVER_TEST_LOUD=1]\n          a switch\n",
        "      --log-level LEVEL  [DROVER_LOG_LEVEL]\n",
        "      --config FILE  [DROVER_CONFIG]\n", "\"[sink]\"",
        "  -h, --help\n          this help\n",
        "SIZE is bytes", "DURATION is seconds", "\nNotes last.\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect (strstr (out, expected[i]), "help lacks \"%s\":\n%s", expected[i], out);
    cr_expect_null (strstr (out, "DROVER_TEST_INPUT"), "FILE is an argument only");
    //  No line is wider than 79 columns.
    for (const char *line = out; *line; ) {
        size_t len = strcspn (line, "\n");
        cr_expect_leq (len, 79, "too wide: %.*s", (int) len, line);
        line += len + (line[len] == '\n');
    }
    s_free (&parsed);
}

Test (options, a_wrong_table_is_refused)
{
    static const option_t wrong[] = {
        { "count", 0, OPTION_NUMBER, AT (loud), "N", 1, 2, .help = "a number in a bool" },
    };
    static const option_t twice[] = {
        { "a", 'x', OPTION_BOOL, AT (loud), .help = "a" },
        { "b", 'x', OPTION_BOOL, AT (loud), .help = "b" },
    };
    static const option_t help[] = { { "help", 0, OPTION_BOOL, AT (loud), .help = "h" } };
    const option_t *tables[] = { wrong, twice, help };
    size_t counts[] = { 1, 2, 1 };
    for (size_t i = 0; i < 3; i++) {
        options_spec_t spec = { .command = "sink", .options = tables[i], .count = counts[i] };
        cr_expect_null (options_new (&spec), "table %zu", i);
    }
}

//  ---------------------------------------------------------------------
//  The real binary

//  Run `drover ARGV...` to its end; its exit status, and what it printed
//  (stdout and stderr) in a string the caller frees.
static int
s_drover (char **text_p, char *const argv[])
{
    char log[700];
    snprintf (log, sizeof log, "%s/drover.log", s_dir);
    unlink (log);
    pid_t pid = support_spawnv (log, argv);
    int status = -1;
    if (!SUPPORT_WAIT (support_exited (pid, &status), 20000))
        support_stop (pid, SIGKILL, 1000);
    *text_p = support_slurp (log);
    cr_assert_not_null (*text_p);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (options, every_command_helps_and_refuses_bad_usage_with_2)
{
    const char *commands[] = { "broker", "agent", "sink", "submit", "status", "results",
                               "demo", "keygen" };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *text;
        cr_expect_eq (s_drover (&text, (char *[]) { (char *) commands[i], "--help", NULL }),
                      0, "%s --help", commands[i]);
        char usage[64];
        snprintf (usage, sizeof usage, "usage: drover %s", commands[i]);
        cr_expect (strstr (text, usage) && strstr (text, "-h, --help"), "%s", text);
        free (text);
        cr_expect_eq (s_drover (&text, (char *[]) { (char *) commands[i], "--no-such-flag",
                                                    NULL }), 2, "%s", commands[i]);
        cr_expect (strstr (text, "unknown option: --no-such-flag"), "%s", text);
        free (text);
    }
}

Test (options, config_file_reaches_the_command)
{
    //  status takes its broker, timeout and job from the file; the broker
    //  is not there, so the answer it waited for says which values it used.
    char broker[64];
    snprintf (broker, sizeof broker, "%s", support_endpoint ());
    char conf[512];
    snprintf (conf, sizeof conf, "log-level = warn\n[status]\nbroker = %s\n"
              "reply-timeout = 0.3\njob = from-file\n[broker]\nheartbeat-ms = 1\n", broker);
    const char *path = s_file ("drover.conf", conf);
    char *text, expected[200];
    cr_expect_eq (s_drover (&text, (char *[]) { "status", "--config", (char *) path, NULL }), 1);
    snprintf (expected, sizeof expected, "no answer from broker at %s after 0.3 s", broker);
    cr_expect (strstr (text, expected), "%s", text);
    free (text);
    //  A flag wins over the file.
    cr_expect_eq (s_drover (&text, (char *[]) { "status", "--config", (char *) path,
                                                "--reply-timeout", "250ms", NULL }), 1);
    snprintf (expected, sizeof expected, "no answer from broker at %s after 0.25 s", broker);
    cr_expect (strstr (text, expected), "%s", text);
    free (text);
    //  keygen's directory from [keygen].
    char keys[400], cert[500];
    snprintf (keys, sizeof keys, "%s/keys", s_dir);
    snprintf (conf, sizeof conf, "[keygen]\ndir = %s\n", keys);
    path = s_file ("keygen.conf", conf);
    cr_expect_eq (s_drover (&text, (char *[]) { "keygen", "--config", (char *) path, "k1",
                                                NULL }), 0, "%s", text);
    free (text);
    snprintf (cert, sizeof cert, "%s/k1_secret", keys);
    cr_expect_eq (access (cert, R_OK), 0, "%s", cert);
    //  A bad line is a usage error naming the file and line.
    path = s_file ("bad.conf", "[agent]\nthreads = 0\n");
    cr_expect_eq (s_drover (&text, (char *[]) { "agent", "--config", (char *) path, NULL }), 2);
    cr_expect (strstr (text, "bad.conf:2: threads must be a whole number from 1 to 4096: 0"),
               "%s", text);
    free (text);
    path = s_file ("bad.conf", "[broker]\nheartbeat = 1\n");
    cr_expect_eq (s_drover (&text, (char *[]) { "broker", "--config", (char *) path, NULL }), 2);
    cr_expect (strstr (text, "bad.conf:2: drover broker has no option heartbeat"), "%s", text);
    free (text);
}
