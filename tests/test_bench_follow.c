//  test_bench_follow.c -- the bench's observer on its own: follow.h hands on
//  each complete line of a file another writer appends to (split across
//  reads, longer than a read, or not finished yet), and lat.h wakes the
//  sender once the results it waits for are in.  A real file and a real
//  thread; this process writes the file as drover's sink would.
#include "bench/follow.h"
#include "bench/lat.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 10000
#define MAX_LINES 16

//  What the follower handed on.
typedef struct {
    pthread_mutex_t mutex;
    char *lines[MAX_LINES];
    size_t sizes[MAX_LINES];
    atomic_size_t count;            //  lines (or records) handed on
    atomic_size_t reads;            //  reads that found something
} seen_t;

static void
s_on_line (void *arg, const char *line, size_t len, uint64_t now)
{
    seen_t *self = arg;
    (void) now;
    pthread_mutex_lock (&self->mutex);
    size_t n = atomic_load (&self->count);
    if (n < MAX_LINES) {
        self->lines[n] = malloc (len + 1);
        memcpy (self->lines[n], line, len);
        self->lines[n][len] = 0;
        self->sizes[n] = len;
    }
    atomic_store (&self->count, n + 1);
    pthread_mutex_unlock (&self->mutex);
}

static void
s_on_read (void *arg)
{
    seen_t *self = arg;
    atomic_fetch_add (&self->reads, 1);
}

static char *dir;
static char path[512];
static int fd = -1;
static seen_t seen;

static void
s_setup (void)
{
    dir = support_tmpdir ();
    snprintf (path, sizeof path, "%s/results.jsonl", dir);
    fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    cr_assert_geq (fd, 0);
    memset (&seen, 0, sizeof seen);
    pthread_mutex_init (&seen.mutex, NULL);
}

static void
s_teardown (void)
{
    for (size_t i = 0; i < MAX_LINES; i++)
        free (seen.lines[i]);
    pthread_mutex_destroy (&seen.mutex);
    close (fd);
    support_rmdir (&dir);
}

static void
s_write (const void *data, size_t size)
{
    for (const char *at = data; size; ) {
        ssize_t put = write (fd, at, size);
        cr_assert_gt (put, 0);
        at += put;
        size -= (size_t) put;
    }
}

static void
s_write_str (const char *text)
{
    s_write (text, strlen (text));
}

//  Wait until the follower has read what was written: the reads it made.
static void
s_wait_reads (size_t reads)
{
    cr_assert (SUPPORT_WAIT (atomic_load (&seen.reads) >= reads, WAIT_MS),
               "%zu reads, not %zu", atomic_load (&seen.reads), reads);
}

static void
s_wait_lines (size_t count)
{
    cr_assert (SUPPORT_WAIT (atomic_load (&seen.count) >= count, WAIT_MS),
               "%zu lines, not %zu", atomic_load (&seen.count), count);
}

TestSuite (bench_follow, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (bench_follow, from_the_end_a_line_split_across_reads) {
    s_write_str ("{\"before\":1}\n");           //  there before: not handed on
    follow_t *follow = follow_new (path, 0, s_on_line, s_on_read, &seen);
    cr_assert (follow);
    s_write_str ("{\"a\":1}\n{\"b\"");
    s_wait_lines (1);
    s_wait_reads (1);
    cr_expect_str_eq (seen.lines[0], "{\"a\":1}");
    s_write_str (":2}\n");
    s_wait_lines (2);
    follow_destroy (&follow);
    cr_assert_null (follow);
    cr_expect_eq (atomic_load (&seen.count), 2);
    cr_expect_str_eq (seen.lines[1], "{\"b\":2}");
}

Test (bench_follow, a_partial_last_line_waits_for_its_newline) {
    follow_t *follow = follow_new (path, 0, s_on_line, s_on_read, &seen);
    cr_assert (follow);
    s_write_str ("one\ntw");
    s_wait_lines (1);
    s_wait_reads (1);
    //  Read, and not handed on: the line is not complete.
    size_t reads = atomic_load (&seen.reads);
    s_write_str ("o");
    s_wait_reads (reads + 1);
    cr_expect_eq (atomic_load (&seen.count), 1, "\"two\" has no newline yet");
    s_write_str ("\nthr");
    s_wait_lines (2);
    follow_destroy (&follow);
    cr_expect_eq (atomic_load (&seen.count), 2, "\"thr\" never ended");
    cr_expect_str_eq (seen.lines[0], "one");
    cr_expect_str_eq (seen.lines[1], "two");
}

//  Longer than one read of the buffer (1 MiB) but within it: whole.
//  Longer than the buffer: not a result, dropped up to its newline, and
//  the lines after it are whole.
Test (bench_follow, long_lines) {
    follow_t *follow = follow_new (path, 0, s_on_line, s_on_read, &seen);
    cr_assert (follow);
    size_t half = 400 * 1024, huge = 3 * 1024 * 1024;
    char *xs = malloc (huge);
    memset (xs, 'x', huge);
    s_write (xs, half);
    s_wait_reads (1);
    s_write (xs, half);
    s_write_str ("\nshort\n");
    s_wait_lines (2);
    cr_expect_eq (seen.sizes[0], 2 * half);
    cr_expect_str_eq (seen.lines[1], "short");
    s_write (xs, huge);
    s_write_str ("y\nafter\n");
    s_wait_lines (3);
    s_write_str ("last\n");
    s_wait_lines (4);
    follow_destroy (&follow);
    free (xs);
    cr_expect_eq (atomic_load (&seen.count), 4);
    cr_expect_str_eq (seen.lines[2], "after", "not the huge line's tail");
    cr_expect_str_eq (seen.lines[3], "last");
}

Test (bench_follow, records_split_across_reads) {
    follow_t *follow = follow_new (path, 8, s_on_line, s_on_read, &seen);
    cr_assert (follow);
    s_write_str ("AAAAAAAABBBB");
    s_wait_lines (1);
    s_write_str ("BBBBCC");
    s_wait_lines (2);
    follow_destroy (&follow);
    cr_expect_eq (atomic_load (&seen.count), 2);
    cr_expect_str_eq (seen.lines[0], "AAAAAAAA");
    cr_expect_str_eq (seen.lines[1], "BBBBBBBB");
}

Test (bench_follow, no_such_file) {
    char missing[600];
    snprintf (missing, sizeof missing, "%s/none", dir);
    cr_expect_null (follow_new (missing, 0, s_on_line, s_on_read, &seen));
}

//  The observer marks results one at a time and notifies after each; the
//  sender waits for all of them with a long timeout: a lost wake-up would
//  show as the wait running out.
typedef struct {
    lat_t *lat;
    size_t count;
    size_t refused;                 //  lat_seen said false: none should
} marker_t;

static void *
s_marker (void *arg)
{
    marker_t *self = arg;
    for (size_t seq = 0; seq < self->count; seq++) {
        if (!lat_seen (self->lat, seq, lat_now_us ()))
            self->refused++;
        lat_notify (self->lat);
        if (seq % 1000 == 0)
            sched_yield ();
    }
    return NULL;
}

Test (bench_follow, lat_wait_wakes_when_the_target_is_in) {
    size_t count = 200000;
    lat_t *lat = lat_new (count);
    cr_assert (lat);
    lat_sent_batch (lat, 0, count, lat_now_us ());
    cr_expect_eq (lat_wait (lat, 0, 60000), 0, "nothing to wait for");
    for (size_t round = 0; round < 20; round++) {
        lat_t *fresh = lat_new (count / 20);
        lat_sent_batch (fresh, 0, count / 20, lat_now_us ());
        marker_t marker = { fresh, count / 20, 0 };
        pthread_t thread;
        pthread_create (&thread, NULL, s_marker, &marker);
        int64_t start = support_now_ms ();
        cr_expect_eq (lat_wait (fresh, count / 20, 60000), count / 20);
        cr_expect_lt (support_now_ms () - start, 30000, "the wake-up came");
        pthread_join (thread, NULL);
        cr_expect_eq (marker.refused, 0);
        cr_expect_eq (lat_duplicates (fresh), 0);
        lat_destroy (&fresh);
    }
    cr_expect (!lat_seen (lat, count, lat_now_us ()), "out of range");
    cr_expect (lat_seen (lat, 5, lat_now_us ()));
    cr_expect (!lat_seen (lat, 5, lat_now_us ()), "seen before");
    cr_expect_eq (lat_duplicates (lat), 1);
    cr_expect_eq (lat_done (lat), 1);
    lat_destroy (&lat);
    cr_assert_null (lat);
}
