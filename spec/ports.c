//  ports.c -- parsing ports (ports.h) into a range set of
//  protocol << 16 | port, and the named sets topN from the ranking
//  compiled in from ports-top.txt.
#include "spec/ports.h"
#include "spec/wordlist.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  ports-top.txt, compiled in (cmake/embed.cmake).
extern const char ports_top_txt[];
extern const size_t ports_top_txt_size;

//  How many ports of each protocol the ranking has.
#define PORTS_TOP_MAX 1000

struct ports {
    rangeset_t *set;
};

//  The state of one ports_add: the protocol words take until a tag says
//  otherwise.
typedef struct {
    ports_t *ports;
    ports_protocol_t protocol;
} parse_t;

static const char *const s_protocols[] = { "tcp", "udp", "sctp" };

ports_t *
ports_new (void)
{
    ports_t *self = calloc (1, sizeof *self);
    if (self && !(self->set = rangeset_new ()))
        ports_destroy (&self);
    return self;
}

void
ports_destroy (ports_t **self_p)
{
    if (!*self_p)
        return;
    rangeset_destroy (&(*self_p)->set);
    free (*self_p);
    *self_p = NULL;
}

const char *
ports_protocol_name (ports_protocol_t protocol)
{
    return (unsigned) protocol < 3? s_protocols[protocol]: "?";
}

static address_t
s_key (ports_protocol_t protocol, unsigned port)
{
    return (address_t) protocol << 16 | port;
}

//  A port number of 1 to 5 digits: 1 to 65535, or 0 if not one.
static unsigned
s_number (const char *text, size_t len)
{
    if (len == 0 || len > 5 || strspn (text, "0123456789") < len)
        return 0;
    unsigned long number = strtoul (text, NULL, 10);
    return number <= 65535? (unsigned) number: 0;
}

//  The first count ports of protocol's ranking.  0, or -1 with err.
static int
s_add_top (parse_t *parse, const char *word, size_t len, unsigned count, char *err,
           size_t errlen)
{
    const char *name = s_protocols[parse->protocol];
    size_t name_len = strlen (name);
    const char *text = ports_top_txt, *end = ports_top_txt + ports_top_txt_size;
    unsigned added = 0;
    while (text < end && added < count) {
        const char *eol = memchr (text, '\n', (size_t) (end - text));
        eol = eol? eol: end;
        if (eol - text > (ptrdiff_t) name_len && !memcmp (text, name, name_len)
        &&  text[name_len] == ' ') {
            for (const char *at = text + name_len; at < eol && added < count; ) {
                char *next;
                unsigned long port = strtoul (at, &next, 10);
                if (next == at)
                    break;
                if (rangeset_add (parse->ports->set, s_key (parse->protocol, (unsigned) port),
                                  s_key (parse->protocol, (unsigned) port)))
                    return wordlist_error (err, errlen, NULL, 0, "out of memory");
                added++;
                at = next;
            }
        }
        text = eol + 1;
    }
    if (added < count)
        return wordlist_error (err, errlen, word, len, "is more than the %u %s ports "
                               "drover ranks (top1 to top%u)", added, name, added);
    return 0;
}

//  One word, after its protocol tag.
static int
s_add_word (parse_t *parse, const char *word, size_t len, char *err, size_t errlen)
{
    if (len > 3 && !strncasecmp (word, "top", 3)) {
        unsigned count = s_number (word + 3, len - 3);
        if (count == 0 || count > PORTS_TOP_MAX)
            return wordlist_error (err, errlen, word, len, "is not a named set (top1 to "
                                   "top%d)", PORTS_TOP_MAX);
        return s_add_top (parse, word, len, count, err, errlen);
    }
    const char *dash = memchr (word, '-', len);
    unsigned first, last;
    if (dash) {
        size_t left = (size_t) (dash - word), right = len - left - 1;
        first = left? s_number (word, left): 1;
        last = right? s_number (dash + 1, right): 65535;
    }
    else
        first = last = s_number (word, len);
    if (first == 0 || last == 0)
        return wordlist_error (err, errlen, word, len, "is not a port, a range of ports "
                               "(1-65535) or a named set (top100)");
    if (last < first)
        return wordlist_error (err, errlen, word, len, "is a range that goes backwards");
    if (rangeset_add (parse->ports->set, s_key (parse->protocol, first),
                      s_key (parse->protocol, last)))
        return wordlist_error (err, errlen, NULL, 0, "out of memory");
    return 0;
}

static int
s_add_tagged (void *parse_v, const char *word, size_t len, char *err, size_t errlen)
{
    parse_t *parse = parse_v;
    if (len >= 2 && word[1] == ':') {
        const char *tag = strchr ("TUS", toupper ((unsigned char) word[0]));
        if (!tag || !word[0])
            return wordlist_error (err, errlen, word, len, "has an unknown protocol tag "
                                   "(T:, U: or S:)");
        parse->protocol = (ports_protocol_t) (tag - "TUS");
        word += 2, len -= 2;
        if (len == 0)
            return 0;               //  "U:" alone tags the words after it
    }
    return s_add_word (parse, word, len, err, errlen);
}

int
ports_add (ports_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    parse_t parse = { self, PORTS_TCP };
    int rc = wordlist_split (text, len, s_add_tagged, &parse, err, errlen);
    rangeset_finish (self->set);
    return rc;
}

int
ports_subtract (ports_t *self, const ports_t *other)
{
    return rangeset_subtract (self->set, other->set);
}

uint32_t
ports_count (const ports_t *self)
{
    return (uint32_t) rangeset_count (self->set);
}

void
ports_nth (const ports_t *self, uint32_t index, uint16_t *port, ports_protocol_t *protocol)
{
    address_t key = rangeset_nth (self->set, index);
    *port = (uint16_t) key;
    *protocol = (ports_protocol_t) (key >> 16);
}

const rangeset_t *
ports_set (const ports_t *self)
{
    return self->set;
}

ports_t *
ports_from (rangeset_t **set_p)
{
    rangeset_t *set = *set_p;
    *set_p = NULL;
    bool ok = set != NULL;
    for (size_t i = 0; ok && i < rangeset_ranges (set); i++) {
        address_t first, last;
        rangeset_range (set, i, &first, &last);
        ok = (first & 0xffff) != 0 && last >> 16 == first >> 16 && last >> 16 < 3
          && (last & 0xffff) <= 65535;
    }
    ports_t *self = ok? calloc (1, sizeof *self): NULL;
    if (!self) {
        rangeset_destroy (&set);
        return NULL;
    }
    self->set = set;
    return self;
}
