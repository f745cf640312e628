//  allowlist.h -- an allow-list directory: the CURVE public keys of the
//  CZMQ certificate files in it, and a cheap signature that changes when
//  its contents do, so auth.c (one list per ZAP domain) knows when to read
//  it again.
#ifndef DROVER_ALLOWLIST_H
#define DROVER_ALLOWLIST_H

#include <stdint.h>

typedef struct _zhashx_t zhashx_t;  //  as czmq.h declares it

//  A hash of the names, inodes, sizes, modes and modification times of the
//  files allowlist_load would read.  0, or -errno if dir cannot be listed.
int allowlist_signature (const char *dir, uint64_t *signature_p);

//  A new set of the public keys (Z85 text -> (void *) 1) of every regular
//  file in dir, symbolic links followed.  Skipped, with a warning naming
//  domain: NAME_secret files (a secret does not belong in an allow-list),
//  files that are not certificates or over 64 KB.  Dot files are skipped
//  quietly.  0, or -errno if dir cannot be listed (*keys_p NULL then).
int allowlist_load (const char *dir, const char *domain, zhashx_t **keys_p);

#endif
