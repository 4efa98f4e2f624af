# The C contract of csrc/sampler.h, mirrored for Cython and nothing else.
# `nogil`: safe to call without the GIL (they touch no Python object).

from libc.stdint cimport int64_t, uint64_t

cdef extern from "sampler.h" nogil:
    ctypedef struct sampler:
        pass

    ctypedef struct sampler_target:
        int64_t id          # a kernel thread id of this process, or a process id
        int is_process      # 1: the process's CPU clock; 0: one thread's

    # 0, or an errno value (nothing started); rows: capacity x (count + 1) int64;
    # waits (NULL: not read): capacity x count int64, each thread's run delay (ns runnable, no CPU)
    int sampler_start(sampler **out, const sampler_target *targets, size_t count, int64_t period_ns,
                      int64_t *rows, int64_t *waits, size_t capacity)
    size_t sampler_stop(sampler *s, int64_t *own_cpu_ns)  # joins and frees; rows written


cdef extern from "spin.h" nogil:
    int64_t control_now_ns()  # the monotonic clock of start and deadline, in ns
    # The machine control's workload: pin to cpu (-1: not), spin to start, run chunks until the
    # deadline, each counted in *chunks as it ends (readable from another thread); the count
    uint64_t control_run(int cpu, int64_t start_ns, int64_t deadline_ns, uint64_t chunk,
                         volatile uint64_t *chunks)
