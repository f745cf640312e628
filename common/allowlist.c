//  allowlist.c -- see allowlist.h.  Certificate files are read here, not
//  with keys_load (it would open NAME_secret beside NAME) nor zconfig_load
//  (it leaks on a syntax error in CZMQ 4.2.1 and reads files of any size).
#include "common/allowlist.h"

#include <czmq.h>
#include "common/keys.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Files that hold no public key for the list.
static bool
s_skipped_name (const char *name)
{
    size_t len = strlen (name);
    return name[0] == '.' || (len >= 7 && streq (name + len - 7, "_secret"));
}

//  FNV-1a over what identifies the directory's contents: names, inodes,
//  sizes and modification times of the files we would read.  Cheap enough
//  to compute every second; a change of any of them means read again.
static uint64_t
s_mix (uint64_t hash, const void *data, size_t size)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 1099511628211ULL;
    return hash;
}

int
allowlist_signature (const char *dir, uint64_t *signature_p)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return -errno;
    uint64_t sum = 0;
    struct dirent *entry;
    char path[PATH_MAX];
    while ((entry = readdir (handle))) {
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        if (s_skipped_name (entry->d_name) || stat (path, &st) != 0)
            continue;
        //  Entry order is not stable across changes: add per-file hashes.
        uint64_t hash = s_mix (14695981039346656037ULL, entry->d_name,
                               strlen (entry->d_name));
        hash = s_mix (hash, &st.st_ino, sizeof st.st_ino);
        hash = s_mix (hash, &st.st_size, sizeof st.st_size);
        hash = s_mix (hash, &st.st_mtim, sizeof st.st_mtim);
        hash = s_mix (hash, &st.st_mode, sizeof st.st_mode);
        sum += hash;
    }
    closedir (handle);
    *signature_p = sum;
    return 0;
}

#define CERT_FILE_MAX 65536           //  a certificate is a few hundred bytes

//  The whole of a small regular file as a string (caller frees), or NULL.
static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "r");
    char *text = file? malloc (CERT_FILE_MAX + 1): NULL;
    size_t size = text? fread (text, 1, CERT_FILE_MAX + 1, file): 0;
    if (file)
        fclose (file);
    if (!text || size > CERT_FILE_MAX || memchr (text, 0, size)) {
        free (text);
        return NULL;
    }
    text[size] = 0;
    return text;
}

//  The public key of one certificate file into keys; warns and skips what
//  is not one.
static void
s_load_file (const char *domain, const char *path, zhashx_t *keys)
{
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        return;
    char *text = s_slurp (path);
    zconfig_t *root = text? zconfig_str_load (text): NULL;
    free (text);
    if (!root) {
        log_warn ("auth: %s: skipped %s: cannot read it, or not a certificate",
                  domain, path);
        return;
    }
    uint8_t key[KEYS_KEY_SIZE];
    char err[256];
    const char *public_text = zconfig_get (root, "/curve/public-key", NULL);
    if (!public_text)
        log_warn ("auth: %s: skipped %s: no curve/public-key", domain, path);
    else
    if (keys_z85_decode (public_text, key, path, err, sizeof err) != 0)
        log_warn ("auth: %s: skipped %s", domain, err);
    else {
        char z85[KEYS_Z85_SIZE + 1];
        zmq_z85_encode (z85, key, KEYS_KEY_SIZE);
        zhashx_insert (keys, z85, (void *) 1);
    }
    zconfig_destroy (&root);
}

int
allowlist_load (const char *dir, const char *domain, zhashx_t **keys_p)
{
    *keys_p = NULL;
    DIR *handle = opendir (dir);
    if (!handle)
        return -errno;
    zhashx_t *keys = zhashx_new ();
    if (!keys) {
        closedir (handle);
        return -ENOMEM;
    }
    struct dirent *entry;
    char path[PATH_MAX];
    while ((entry = readdir (handle))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        if (s_skipped_name (entry->d_name)) {
            if (entry->d_name[0] != '.')
                log_warn ("auth: %s: skipped %s: a secret key does not belong in "
                          "an allow-list", domain, path);
            continue;
        }
        s_load_file (domain, path, keys);
    }
    closedir (handle);
    *keys_p = keys;
    return 0;
}
