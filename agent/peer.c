//  peer.c -- see peer.h.
#include "agent/peer.h"
#include "proto/wire.h"

#include <string.h>

msg_t *
peer_recv (zsock_t *sock, peerlog_t *log, const char *peer, const char *endpoint,
           uint64_t *bad)
{
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return NULL;
    zmsg_first (zmsg);
    zframe_t *command = zmsg_next (zmsg);
    bool is_error = command && zframe_streq (command, "ERROR");
    int version = wire_answer_version (zmsg);
    msg_t *msg = NULL;
    int rc = wire_decode (&zmsg, &msg);
    if (rc == 0)
        return msg;
    bool broker = strcmp (peer, "broker") == 0;
    peerlog_write (log, broker? "broker errors": "sink errors", LOG_LEVEL_WARN, "bad message from %s %s: %s", peer,
                   peerlog_str (endpoint).text, msg_error_name (rc));
    if (bad)
        (*bad)++;
    if (!is_error)
        wire_send_error (sock, NULL, version, rc, "agent could not decode the message");
    return NULL;
}
