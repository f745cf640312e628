//  port_table.h -- the ports a scan found, from a sink's JSON Lines: one
//  job's results (tcp-probe's output {"host","port","state","ms"}, or the
//  tuple [host, port, protocol] as input when the output lacks them),
//  sorted by host (IPv4, then IPv6, then names) and port, each
//  (host, port, protocol) once.  What `drover results` and `drover demo`
//  print.
#ifndef DROVER_PORT_TABLE_H
#define DROVER_PORT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct port_table port_table_t;

typedef struct {
    size_t results;             //  the job's lines
    size_t open, closed, filtered;
    size_t failed;              //  dead letters (status not ok)
    size_t stateless;           //  ok, but the output has no state (not a probe)
    size_t unreadable;          //  lines that are not a result (any job's)
} port_table_counts_t;

//  The table of job's results; all: keep closed and filtered ports too,
//  not only open ones.  NULL if out of memory.
port_table_t *port_table_new (const char *job, bool all);
void port_table_destroy (port_table_t **self_p);

//  Read every line of file.  0, or -1 on a read error or out of memory.
int  port_table_read (port_table_t *self, FILE *file);
void port_table_counts (const port_table_t *self, port_table_counts_t *counts);

//  A NOTE for a row ("demo listener"), or NULL.
typedef const char *(port_table_note_fn) (void *arg, const char *host, unsigned port);

//  Per host with a row: "open ports on HOST SUFFIX:" ("ports on" with
//  all), then PORT STATE TIME NOTE rows; the port alone for TCP, 53/udp
//  otherwise.  Host names are printed with anything unprintable as '?'.
void port_table_print (port_table_t *self, FILE *out, const char *suffix,
                       port_table_note_fn *note, void *arg);
//  One JSON object: {"job", "results", "open", "closed", "filtered",
//  "failed", "stateless", "hosts": [{"host", "ports": [{"port",
//  "protocol", "state", "ms"}]}]}.
void port_table_print_json (port_table_t *self, FILE *out);

#endif
