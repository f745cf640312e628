//  writeback.h -- keep an append-only file from filling the page cache: as
//  it grows, each chunk's writeback is started, and chunks far enough
//  behind its end are waited for and dropped from the cache.  The sink's
//  result file uses it, so a long job leaves a bounded cache footprint and
//  its results head for the disk as they are written, not half a minute
//  later; its recent lines stay cached for whoever follows the file.
#ifndef DROVER_WRITEBACK_H
#define DROVER_WRITEBACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct writeback writeback_t;

#define WRITEBACK_CHUNK  (8u << 20)         //  bytes written back at a time
#define WRITEBACK_KEEP   (32u << 20)        //  bytes behind the end kept cached
#define WRITEBACK_WRITE  (64u << 10)        //  bytes handed to one write(2), at most

//  For fd (not owned), whose end is now at end; chunk and keep in bytes,
//  chunk a multiple of the page size.  NULL if out of memory.
writeback_t *writeback_new (int fd, uint64_t end, uint64_t chunk, uint64_t keep);
void         writeback_destroy (writeback_t **self_p);

//  The file now ends at end (after an append, or a cut).  Starts the
//  writeback of each whole chunk before it and drops the chunks more than
//  keep behind it, waiting for their writeback first.  Errors are not
//  returned: the data is in the file either way; a file system that cannot
//  do it (a pipe, tmpfs) just keeps its pages.
void         writeback_advance (writeback_t *self, uint64_t end);

//  Writes all of data to fd (not owned), WRITEBACK_WRITE bytes a call at
//  most, over short writes and EINTR.  0, or -errno.  Smaller calls keep
//  the page cache to small folios: a bigger one lets the file system (ext4
//  on recent kernels, such as 6.18) take large folios from high-order free
//  memory, which a VM that reports free memory to its host has given back;
//  copying into them then faults page by page on the host (bench/README.md).
int          writeback_write (int fd, const void *data, size_t size);

//  Bytes dropped from the cache so far (what the tests look at).
uint64_t     writeback_dropped (const writeback_t *self);

#endif
