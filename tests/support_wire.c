//  support_wire.c -- see support_wire.h.
#include "support_wire.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

zframe_t *
support_hex (const char *hex)
{
    uint8_t bytes[256];
    size_t size = 0;
    for (const char *p = hex; *p; ) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned byte;
        cr_assert_eq (sscanf (p, "%2x", &byte), 1, "not hex: %s", p);
        cr_assert_lt (size, sizeof bytes);
        bytes[size++] = (uint8_t) byte;
        p += 2;
    }
    return zframe_new (bytes, size);
}

int
support_decode (zmsg_t *zmsg, msg_t **msg_p)
{
    msg_t *msg = NULL;
    int rc = wire_decode (&zmsg, &msg);
    cr_assert_null (zmsg, "decode takes the zmsg");
    if (rc)
        cr_assert_null (msg);
    if (msg_p)
        *msg_p = msg;
    else
        msg_destroy (&msg);
    return rc;
}
