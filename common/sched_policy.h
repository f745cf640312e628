//  sched_policy.h -- the Linux scheduling policy a daemon runs under
//  (--scheduling): batch (SCHED_BATCH) or normal (SCHED_OTHER).  Set at
//  start, before any thread: the threads and processes started after it
//  (ZeroMQ's I/O threads, handler threads, worker processes, the programs
//  the exec handler runs) inherit it.
//
//  Why batch by default: a woken SCHED_BATCH thread does not preempt the
//  one running on its CPU; it runs when that one sleeps or its slice ends.
//  drover's daemons hand batches between a dozen threads, so on busy cores
//  every hand-off was a preemption and two context switches, each one
//  costly on a VM (bench/README.md).  Same nice level, no privilege needed.
#ifndef DROVER_SCHED_POLICY_H
#define DROVER_SCHED_POLICY_H

//  The names, NULL-terminated, for --scheduling's choices.
extern const char *const sched_policy_names[];
#define SCHED_POLICY_DEFAULT "batch"

//  Run the calling thread, and what it starts from now on, under the
//  policy called name.  0, or -1 with errno (EINVAL: no such name).
int         sched_policy_set (const char *name);
//  The calling thread's policy by name: "batch", "normal", or "other" (a
//  policy drover does not set, such as a real-time one).
const char *sched_policy_current (void);
//  sched_policy_set, and a log line that says what it did or why not;
//  a policy that cannot be set is not fatal (a seccomp filter that
//  refuses it, say): the daemon runs on under the one it has.  A thread
//  already under the policy asks the kernel nothing.
void        sched_policy_start (const char *name);

#endif
