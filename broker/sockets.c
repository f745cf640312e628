//  sockets.c -- see sockets.h.  broker.c binds its frontend, intake and
//  backend with it when it opens.
#include "broker/sockets.h"
#include "common/curve.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

//  Bind sock to each endpoint of a comma-separated list.
static int
s_bind_all (zsock_t *sock, const char *name, const char *endpoints)
{
    char *list = strdup (endpoints);
    if (!list)
        return -ENOMEM;
    int rc = 0;
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint && rc == 0;
         endpoint = strtok_r (NULL, ",", &saveptr)) {
        if (zsock_bind (sock, "%s", endpoint) == -1) {
            log_error ("broker: cannot bind %s to %s: %s", name, endpoint,
                       zmq_strerror (zmq_errno ()));
            rc = -EADDRNOTAVAIL;
        }
    }
    free (list);
    return rc;
}

zsock_t *
sockets_bind (int type, const char *name, const char *endpoints, const char *domain,
              const broker_config_t *config, int sndhwm, int rcvhwm)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    //  Before the bind: libzmq gives the connections a listener accepts
    //  the options the socket had when it was bound.
    if (sndhwm >= 0)
        zsock_set_sndhwm (sock, sndhwm);
    if (rcvhwm >= 0)
        zsock_set_rcvhwm (sock, rcvhwm);
    //  Over this size libzmq drops the connection without a word; smaller
    //  limits (tuple size, batch) are ours and get an ERROR.
    zsock_set_maxmsgsize (sock, config->max_message_size);
    //  Without keys the NULL mechanism, as before; with an auth_t still
    //  through ZAP so connections are logged.
    int rc = config->keys? curve_server (sock, config->keys, domain)
           : config->auth? curve_insecure_server (sock, domain): 0;
    if (rc) {
        log_error ("broker: %s: cannot set up %s: %s", name,
                   config->keys? "CURVE": "ZAP", strerror (-rc));
        zsock_destroy (&sock);
        return NULL;
    }
    if (s_bind_all (sock, name, endpoints))
        zsock_destroy (&sock);
    return sock;
}
