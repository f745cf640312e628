//  interrupts.c -- counting SIGINT and SIGTERM for the agent; see
//  interrupts.h.  Moved out of agent.c, whose reactor asks each turn.
#include "agent/interrupts.h"

#include <czmq.h>
#include <signal.h>

//  SIGINT and SIGTERM seen: the first drains, the second stops at once.
static volatile sig_atomic_t s_interrupts;

static void
s_on_interrupt (int sig)
{
    (void) sig;
    s_interrupts++;
}

void
interrupts_install (void)
{
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_interrupt };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

int
interrupts_seen (void)
{
    int count = s_interrupts;
    return count? count: zsys_interrupted? 1: 0;
}
