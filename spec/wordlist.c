//  wordlist.c -- words separated by white space, commas and comments
//  (wordlist.h).
#include "spec/wordlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_is_separator (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
        || c == ',';
}

int
wordlist_split (const char *text, size_t len, wordlist_fn *fn, void *arg, char *err,
                size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        if (s_is_separator (text[i])) {
            i++;
            continue;
        }
        if (text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        size_t start = i;
        while (i < len && !s_is_separator (text[i]) && text[i] != '#')
            i++;
        if (fn (arg, text + start, i - start, err, errlen))
            return -1;
    }
    return 0;
}

int
wordlist_split_file (const char *path, wordlist_fn *fn, void *arg, char *err, size_t errlen)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return wordlist_error (err, errlen, NULL, 0, "cannot read %s: %s", path,
                               strerror (errno));
    char *line = NULL;
    size_t size = 0, number = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline (&line, &size, file)) >= 0) {
        number++;
        char why[256];
        rc = wordlist_split (line, (size_t) len, fn, arg, why, sizeof why);
        if (rc)
            snprintf (err, errlen, "%s line %zu: %s", path, number, why);
    }
    if (rc == 0 && ferror (file))
        rc = wordlist_error (err, errlen, NULL, 0, "cannot read %s: %s", path,
                             strerror (errno));
    free (line);
    fclose (file);
    return rc;
}

int
wordlist_error (char *err, size_t errlen, const char *word, size_t len, const char *why, ...)
{
    if (!err || errlen == 0)
        return -1;
    size_t used = 0;
    if (word) {
        char shown[72];
        size_t n = 0;
        for (size_t i = 0; i < len && i < 64; i++) {
            unsigned char c = (unsigned char) word[i];
            shown[n++] = c >= 0x20 && c < 0x7f? (char) c: '?';
        }
        if (len > 64)
            memcpy (shown + n, "...", 3), n += 3;
        shown[n] = 0;
        int wrote = snprintf (err, errlen, "'%s' ", shown);
        used = wrote > 0? (size_t) wrote: 0;
    }
    if (used < errlen) {
        va_list args;
        va_start (args, why);
        vsnprintf (err + used, errlen - used, why, args);
        va_end (args);
    }
    return -1;
}
