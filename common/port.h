//  port.h -- pick a free TCP port on 127.0.0.1 for daemons a process starts
//  itself (the demo, tests).  Ports come from outside the kernel's ephemeral
//  range, so no outgoing connection can take one between pick and bind.
#ifndef DROVER_PORT_H
#define DROVER_PORT_H

//  A port that was free a moment ago, or -1.
int port_pick (void);

#endif
