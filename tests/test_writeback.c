//  test_writeback.c -- unit tests of common/writeback.c on a real file: the
//  chunks far behind the end leave the page cache, the recent ones stay,
//  the bytes read back intact, and a file cut back starts over there;
//  writeback_write hands write(2) no more than WRITEBACK_WRITE at a time.
#include <criterion/criterion.h>
#include "common/writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MIB   (1u << 20)
#define CHUNK (1 * MIB)
#define KEEP  (4 * MIB)

static char s_path[256];

//  A file on a disk-backed file system (tmpfs keeps its pages whatever we
//  advise): the test's directory, else /var/tmp.
static int
s_open_file (void)
{
    const char *dirs[] = { ".", "/var/tmp" };
    for (size_t i = 0; i < 2; i++) {
        struct statfs fs;
        if (statfs (dirs[i], &fs) || fs.f_type == TMPFS_MAGIC)
            continue;
        snprintf (s_path, sizeof s_path, "%s/writeback-XXXXXX", dirs[i]);
        int fd = mkstemp (s_path);
        if (fd >= 0)
            return fd;
    }
    cr_skip_test ("no disk-backed directory to write in");
    return -1;
}

static void
s_fill (char *block, size_t size, uint64_t at)
{
    for (size_t i = 0; i < size; i++)
        block[i] = (char) ('a' + (at + i) % 23);
}

//  Append up to end in 64 KiB writes, telling writeback after each.
static void
s_append (int fd, writeback_t *writeback, uint64_t from, uint64_t end)
{
    static char block[64 << 10];
    for (uint64_t at = from; at < end; at += sizeof block) {
        s_fill (block, sizeof block, at);
        cr_assert_eq (write (fd, block, sizeof block), (ssize_t) sizeof block);
        writeback_advance (writeback, at + sizeof block);
    }
}

//  Pages of [from, to) in the page cache.
static size_t
s_resident (int fd, uint64_t from, uint64_t to)
{
    size_t page = (size_t) sysconf (_SC_PAGESIZE), pages = (to - from) / page;
    void *map = mmap (NULL, to - from, PROT_READ, MAP_SHARED, fd, (off_t) from);
    cr_assert_neq (map, MAP_FAILED);
    unsigned char *vec = malloc (pages);
    cr_assert_eq (mincore (map, to - from, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free (vec);
    munmap (map, to - from);
    return resident;
}

//  [from, to) has (almost) left the page cache, or is (almost) all in it.
static void
s_assert_dropped (int fd, uint64_t from, uint64_t to)
{
    size_t pages = (to - from) / (size_t) sysconf (_SC_PAGESIZE);
    size_t resident = s_resident (fd, from, to);
    cr_assert_lt (resident, pages / 100, "%zu of %zu pages still cached", resident, pages);
}

static void
s_assert_cached (int fd, uint64_t from, uint64_t to)
{
    size_t pages = (to - from) / (size_t) sysconf (_SC_PAGESIZE);
    size_t resident = s_resident (fd, from, to);
    cr_assert_gt (resident, pages * 9 / 10, "only %zu of %zu pages cached", resident, pages);
}

static void
s_close (int fd, writeback_t **writeback_p)
{
    writeback_destroy (writeback_p);
    cr_assert_null (*writeback_p);
    close (fd);
    unlink (s_path);
}

Test (writeback, drops_what_is_behind_and_keeps_the_recent_chunks)
{
    int fd = s_open_file ();
    writeback_t *writeback = writeback_new (fd, 0, CHUNK, KEEP);
    cr_assert (writeback);
    s_append (fd, writeback, 0, 12 * MIB);
    //  Dropped while a whole chunk lies more than KEEP behind the end.
    cr_assert_eq (writeback_dropped (writeback), 8 * MIB);
    s_assert_dropped (fd, 0, 8 * MIB);
    s_assert_cached (fd, 8 * MIB, 12 * MIB);

    //  What was dropped reads back from the disk as written.
    char *back = malloc (12 * MIB), *expect = malloc (12 * MIB);
    cr_assert_eq (pread (fd, back, 12 * MIB, 0), (ssize_t) (12 * MIB));
    s_fill (expect, 12 * MIB, 0);
    cr_assert_eq (memcmp (back, expect, 12 * MIB), 0);
    free (back);
    free (expect);
    s_close (fd, &writeback);
}

//  A rollback or a copytruncate cuts the file: dropping starts over from
//  the chunk the new end is in, not from where it had got to.
Test (writeback, a_file_cut_back_starts_over_there)
{
    int fd = s_open_file ();
    writeback_t *writeback = writeback_new (fd, 0, CHUNK, KEEP);
    s_append (fd, writeback, 0, 12 * MIB);
    cr_assert_eq (ftruncate (fd, 2 * MIB + 4096), 0);
    writeback_advance (writeback, 2 * MIB + 4096);
    cr_assert_eq (lseek (fd, 0, SEEK_END), 2 * MIB + 4096);
    s_append (fd, writeback, 2 * MIB + 4096, 10 * MIB + 4096);
    //  From 2 MiB on, [2, 6) MiB are more than KEEP behind 10 MiB.
    cr_assert_eq (writeback_dropped (writeback), 8 * MIB + 4 * MIB);
    s_assert_dropped (fd, 2 * MIB, 6 * MIB);
    s_close (fd, &writeback);
}

//  A file that already has bytes: its first chunk is the one its end is in.
Test (writeback, an_existing_file_is_taken_from_its_end)
{
    int fd = s_open_file ();
    writeback_t *none = writeback_new (fd, 0, CHUNK, KEEP);
    s_append (fd, none, 0, 3 * MIB);
    writeback_destroy (&none);
    writeback_t *writeback = writeback_new (fd, 3 * MIB, CHUNK, KEEP);
    writeback_advance (writeback, 3 * MIB);
    cr_assert_eq (writeback_dropped (writeback), 0);
    s_append (fd, writeback, 3 * MIB, 9 * MIB);
    //  [3, 5) MiB are more than KEEP behind 9 MiB; the bytes before 3 MiB
    //  are not its to drop.
    cr_assert_eq (writeback_dropped (writeback), 2 * MIB);
    s_assert_cached (fd, 0, 3 * MIB);
    s_assert_dropped (fd, 3 * MIB, 5 * MIB);
    s_close (fd, &writeback);
}

//  What a seqpacket socket's reader got: one record per write(2).
typedef struct {
    int fd;
    char *data;
    size_t size;
    size_t largest;
} reader_t;

static void *
s_read_records (void *arg)
{
    reader_t *reader = arg;
    char record[1 << 20];
    ssize_t got;
    while ((got = recv (reader->fd, record, sizeof record, 0)) > 0) {
        memcpy (reader->data + reader->size, record, (size_t) got);
        reader->size += (size_t) got;
        if ((size_t) got > reader->largest)
            reader->largest = (size_t) got;
    }
    return NULL;
}

//  A seqpacket socket keeps each write(2) as one record, so the reader
//  sees the size of every call.
Test (writeback, writes_in_pieces_of_at_most_writeback_write)
{
    int pair[2];
    cr_assert_eq (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
    size_t size = 5 * WRITEBACK_WRITE + 7;
    char *data = malloc (size);
    s_fill (data, size, 0);
    reader_t reader = { .fd = pair[1], .data = malloc (size) };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_read_records, &reader), 0);
    cr_assert_eq (writeback_write (pair[0], data, size), 0);
    cr_assert_eq (writeback_write (pair[0], data, 0), 0);
    close (pair[0]);
    pthread_join (thread, NULL);
    cr_assert_eq (reader.size, size);
    cr_assert_eq (memcmp (reader.data, data, size), 0);
    cr_assert_eq (reader.largest, WRITEBACK_WRITE);
    close (pair[1]);
    free (reader.data);
    free (data);
}

Test (writeback, a_failed_write_says_why)
{
    int fd = open ("/dev/null", O_RDONLY);
    cr_assert_geq (fd, 0);
    cr_assert_eq (writeback_write (fd, "x", 1), -EBADF);
    close (fd);
}
