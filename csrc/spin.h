/* spin.h - the machine's control workload: pure C, no Python.h.
 *
 * To know how many cores the machine lends at a given moment, fastfib runs a
 * workload that certainly runs in parallel and shares nothing with the code
 * under test (fastfib.measure.machine): steps of a xorshift generator, in
 * registers only -- no memory traffic, no lock, no fastfib kernel -- in one
 * common window of wall time, on one thread per CPU at once, each pinned to its
 * CPU and called with the GIL released. A thread that gets as far in the window
 * as one thread alone does had its CPU to itself; one whose CPU was taken (by
 * another process, a quota, or the host) gets less far.
 */
#ifndef FASTFIB_SPIN_H
#define FASTFIB_SPIN_H

#include <stdint.h>

/* The monotonic clock, in ns: the clock of control_run's start and deadline. */
int64_t control_now_ns(void);

/* Pin the calling thread to `cpu` (Linux; -1 or elsewhere: not pinned), spin until
 * `start_ns` (busy: a thread woken from sleep gets more than its fair share at first),
 * then run chunks of `chunk` xorshift rounds until `deadline_ns` (checked
 * between chunks; none at all when it has passed). Each finished chunk is counted in
 * `*chunks` at once, so another thread can read how far this one got at the deadline
 * even when this one is not running then. Returns the count. */
uint64_t control_run(int cpu, int64_t start_ns, int64_t deadline_ns, uint64_t chunk, volatile uint64_t *chunks);

#endif
