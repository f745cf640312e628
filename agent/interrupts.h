//  interrupts.h -- SIGINT and SIGTERM as the agent counts them: the first
//  drains, the second stops at once.  The count is the one global the
//  agent has (a signal flag).
#ifndef DROVER_INTERRUPTS_H
#define DROVER_INTERRUPTS_H

//  Take over SIGINT and SIGTERM from CZMQ.  Call before any ZeroMQ socket
//  exists.
void interrupts_install (void);
//  How many were seen (CZMQ's own handler, if not taken over, counts as one).
int  interrupts_seen (void);

#endif
