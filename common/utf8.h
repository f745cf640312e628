//  utf8.h -- UTF-8 checks shared by the JSON reader (which rejects invalid
//  text) and the JSON writer (which escapes invalid bytes it is given).
#ifndef DROVER_UTF8_H
#define DROVER_UTF8_H

#include <stddef.h>
#include <stdint.h>

//  Length of the valid UTF-8 sequence at s (2..4), or 0 if s[0..avail)
//  does not start with one (overlong forms, surrogates, > U+10FFFF).
size_t utf8_len (const unsigned char *s, size_t avail);
//  Write code point cp (at most U+10FFFF) to out (room for 4 bytes);
//  returns the bytes written.
size_t utf8_encode (uint32_t cp, char *out);

#endif
