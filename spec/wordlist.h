//  wordlist.h -- the list syntax that targets and ports share: words
//  separated by white space or commas, '#' starting a comment that runs to
//  the end of the line; in a string or in a file of such lines.  And the
//  error text that quotes a word: bounded and printable, since it may come
//  from a peer and end in a log.
#ifndef DROVER_WORDLIST_H
#define DROVER_WORDLIST_H

#include <stddef.h>

//  Called for each word; returns 0 to go on, or -1 after writing err.
typedef int (wordlist_fn) (void *arg, const char *word, size_t len, char *err, size_t errlen);

//  Each word of text[0..len) to fn, in order, until one fails.  0 or -1.
int wordlist_split (const char *text, size_t len, wordlist_fn *fn, void *arg,
                    char *err, size_t errlen);
//  The same for each line of a file; an error is prefixed "PATH line N: ".
int wordlist_split_file (const char *path, wordlist_fn *fn, void *arg, char *err,
                         size_t errlen);
//  Write "'WORD' WHY" (or WHY alone if word is NULL) into err and return
//  -1.  WORD is cut at 64 bytes and anything unprintable shown as '?'.
int wordlist_error (char *err, size_t errlen, const char *word, size_t len,
                    const char *why, ...) __attribute__ ((format (printf, 5, 6)));

#endif
