/* sampler.h - a CPU-time sampler on a thread of its own: pure C, no Python.h.
 *
 * `fastfib trace` needs to know, about every millisecond, how much CPU time
 * each thread of a running batch has had. A Python thread cannot watch: it
 * would need the GIL to run, and so would wait for exactly the threads it is
 * watching. This sampler is a plain pthread that never touches Python. Every
 * period it appends one row to a buffer the caller owns:
 *
 *     row[0]     = CLOCK_MONOTONIC, in ns (time.perf_counter_ns() on Linux)
 *     row[1 + i] = CPU time of target i, in ns, or -1 if it could not be read
 *
 * A target is one thread of this process (by kernel thread id, as
 * threading.get_native_id() gives it) or a whole process (by pid). Its CPU
 * clock is read exactly (the kernel's clock for a running thread is brought up
 * to date when read), unlike /proc/.../schedstat, which moves only at the
 * scheduler tick (4 ms at HZ=250).
 *
 * Optionally, into a second buffer of the same number of rows (so the rows
 * above keep their layout), each thread target's *run delay*: the second
 * field of /proc/self/task/<tid>/schedstat, the ns it has spent runnable but
 * waiting on a run queue for a CPU, in total since it started:
 *
 *     waits[i]   = run delay of target i, in ns, or -1 if it could not be read
 *
 * This tells a thread the machine did not run (another thread or process had
 * its CPU: the run delay grows) from one that did not want to run (asleep,
 * waiting for the GIL or a lock: it does not). The kernel adds a wait to the
 * run delay when the thread arrives on a CPU, so a wait shows in the sample
 * after it ended. Each thread's file is opened once, at start, and re-read
 * (pread) every sample. A process target always reads -1: a process has no
 * single run queue wait (summing its threads would mean listing them every
 * sample), and its CPU clock read from outside is only tick-accurate anyway.
 *
 * Linux only: elsewhere sampler_start returns ENOSYS.
 */
#ifndef FASTFIB_SAMPLER_H
#define FASTFIB_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sampler sampler;  /* opaque: made by sampler_start, freed by sampler_stop */

typedef struct {
    int64_t id;       /* a kernel thread id of this process, or a process id */
    int is_process;   /* 1: the process's CPU clock (all its threads); 0: one thread's */
} sampler_target;

/* Start sampling `count` targets every `period_ns` into `rows` (capacity rows of
 * count + 1 values) and, unless `waits` is NULL, each target's run delay into
 * `waits` (capacity rows of count values, row k taken with rows' row k); the
 * buffers must outlive the sampler. Returns 0, or an errno value and starts
 * nothing. Sampling stops early when the buffers are full. */
int sampler_start(sampler **out, const sampler_target *targets, size_t count, int64_t period_ns,
                  int64_t *rows, int64_t *waits, size_t capacity);

/* Stop, join and free the sampler; returns how many rows it wrote. `own_cpu_ns`
 * (if not NULL) receives the CPU time the sampler thread itself used. */
size_t sampler_stop(sampler *s, int64_t *own_cpu_ns);

#endif
