//  test_peerlog.c -- common/peerlog.c and the log line it ends in: a
//  peer's string escaped into one line of bounded length, whatever bytes it
//  holds; lines a peer causes rate-limited per category, with what was held
//  back counted in a summary; and log_write itself never writing a control
//  character, so a forged newline cannot start a line.
#include "common/peerlog.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test (peerlog, escapes_what_could_forge_or_hide_a_line)
{
    cr_assert_str_eq (peerlog_str ("agent-7 ok").text, "agent-7 ok");
    cr_assert_str_eq (peerlog_str (NULL).text, "(none)");
    cr_assert_str_eq (peerlog_str ("evil\nFAKE-LOG-LINE broker INFO all good").text,
                      "evil\\nFAKE-LOG-LINE broker INFO all good");
    cr_assert_str_eq (peerlog_str ("a\r\tb\x1b[31mc\x7f").text, "a\\r\\tb\\x1b[31mc\\x7f");
    //  Our escapes cannot be forged either: a backslash is doubled.
    cr_assert_str_eq (peerlog_str ("a\\nb").text, "a\\\\nb");
    //  UTF-8 stays; bytes that are not UTF-8 are shown, not passed on.
    cr_assert_str_eq (peerlog_str ("caf\xc3\xa9 \xe4\xb8\xad").text, "caf\xc3\xa9 \xe4\xb8\xad");
    cr_assert_str_eq (peerlog_str ("\xff\xc3(").text, "\\xff\\xc3(");
    //  Code points that hide or reorder text: C1 NEL, line separator, a
    //  right-to-left override, a zero-width space.
    cr_assert_str_eq (peerlog_str ("\xc2\x85|\xe2\x80\xa8|\xe2\x80\xae|\xe2\x80\x8b").text,
                      "\\u0085|\\u2028|\\u202e|\\u200b");
    //  A NUL inside a frame, with peerlog_mem.
    cr_assert_str_eq (peerlog_mem ("a\0b", 3).text, "a\\x00b");
}

Test (peerlog, long_strings_are_cut_with_an_ellipsis)
{
    char text[1000];
    memset (text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    const char *escaped = peerlog_str (text).text;
    cr_assert_eq (strlen (escaped), PEERLOG_STR_MAX + 3);
    cr_assert_str_eq (escaped + PEERLOG_STR_MAX, "...");
    //  An escape is never cut in half.
    memset (text, '\n', sizeof text - 1);
    escaped = peerlog_str (text).text;
    cr_assert_eq (strlen (escaped), PEERLOG_STR_MAX + 3);
    cr_assert_eq (escaped[PEERLOG_STR_MAX - 1], 'n');
}

//  stderr into a file for the rest of the test; its path.
static char s_path[256];

static void
s_capture (void)
{
    snprintf (s_path, sizeof s_path, "/tmp/drover-test-peerlog-%d.log", (int) getpid ());
    int fd = open (s_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq (fd, 0);
    cr_assert_geq (dup2 (fd, STDERR_FILENO), 0);
    close (fd);
}

static size_t
s_count (const char *text)
{
    char *log = support_slurp (s_path);
    size_t count = 0;
    for (const char *p = log; p && (p = strstr (p, text)); p++)
        count++;
    free (log);
    return count;
}

Test (peerlog, floods_are_cut_and_counted)
{
    s_capture ();
    log_init ("test", LOG_LEVEL_INFO);
    peerlog_t *log = peerlog_new (5);
    for (int i = 0; i < 1000; i++)
        peerlog_write (log, "frontend", LOG_LEVEL_WARN, "bad message %d", i);
    peerlog_write (log, "backend", LOG_LEVEL_WARN, "another kind");
    //  Below the log level: neither written nor counted.
    peerlog_write (log, "debug", LOG_LEVEL_DEBUG, "hidden");
    cr_assert_eq (s_count ("bad message"), 5);
    cr_assert_eq (s_count ("another kind"), 1);
    //  Once the second is over, the rest is accounted for.
    bool summed = SUPPORT_WAIT ((peerlog_flush (log),
                                 s_count ("frontend: 995 more lines not logged") == 1), 3000);
    cr_assert (summed);
    cr_assert_eq (s_count ("not logged"), 1);
    cr_assert_eq (s_count ("hidden"), 0);
    //  And a new second logs again.
    peerlog_write (log, "frontend", LOG_LEVEL_WARN, "bad message again");
    cr_assert_eq (s_count ("bad message again"), 1);
    peerlog_destroy (&log);
    cr_assert_null (log);
    unlink (s_path);
}

Test (peerlog, log_write_never_writes_a_control_character)
{
    s_capture ();
    log_init ("test", LOG_LEVEL_INFO);
    log_warn ("reason: %s", "line one\nFAKE-LOG-LINE broker INFO all good\r\x1b[2K");
    char *log = support_slurp (s_path);
    cr_assert_not_null (log);
    cr_assert_eq (strchr (log, '\n'), log + strlen (log) - 1, "one line: %s", log);
    cr_assert (strstr (log, "line one\\nFAKE-LOG-LINE broker INFO all good\\r\\x1b[2K"));
    free (log);
    unlink (s_path);
}
