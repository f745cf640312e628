//  sockets.h -- the broker's listening sockets: bound to each endpoint of
//  a list, with the message size limit, high-water marks and security
//  (CURVE, or ZAP for allow-lists) the config asks for.
#ifndef DROVER_BROKER_SOCKETS_H
#define DROVER_BROKER_SOCKETS_H

#include <czmq.h>

#include "broker/config.h"

//  A socket of type (ZMQ_ROUTER, ZMQ_PULL) bound to each endpoint of
//  endpoints (comma-separated), in ZAP domain, with sndhwm and rcvhwm
//  (-1: libzmq's default).  name is for the logs.  NULL (logged) if it
//  cannot be set up or bound.
zsock_t *sockets_bind (int type, const char *name, const char *endpoints, const char *domain,
                       const broker_config_t *config, int sndhwm, int rcvhwm);

#endif
