//  free_port.h -- pick a free TCP port on 127.0.0.1 for daemons a process starts
//  itself (the demo, tests).  Ports come from outside the kernel's ephemeral
//  range, so no outgoing connection can take one between pick and bind.
#ifndef DROVER_FREE_PORT_H
#define DROVER_FREE_PORT_H

//  A port that was free a moment ago and is none of the last 64 this
//  process was given, or -1.
int free_port_pick (void);

#endif
