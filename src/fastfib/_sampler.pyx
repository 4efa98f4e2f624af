# cython: language_level=3
"""fastfib's instruments in C: the per-thread CPU-time sampler behind ``fastfib trace``
(csrc/sampler.c) and the machine control's spin (csrc/spin.c).

A C thread reads the CPU clock of each watched thread or process about every
millisecond, and each watched thread's run delay (ns runnable but waiting for a
CPU, from /proc/self/task/<tid>/schedstat). It never takes the GIL, so it
neither waits for the threads it watches nor makes them wait.
:mod:`fastfib.measure.timeline` turns its rows into on-CPU slices and
waiting-for-a-CPU slices. Linux only: elsewhere ``Sampler.start`` raises OSError.
"""

import errno
import os

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc

cimport fastfib._csampler as c


cdef class Sampler:
    """Sample ``targets`` -- (id, is_process) pairs -- every ``period_s`` seconds, for at
    most ``max_s`` seconds, between ``start()`` and ``stop()``. One use only."""

    cdef c.sampler *handle
    cdef c.sampler_target *targets
    cdef int64_t *buffer  # capacity rows of count + 1 values
    cdef int64_t *wait_buffer  # capacity rows of count values: each target's run delay
    cdef size_t count, capacity, written
    cdef int64_t period_ns
    cdef readonly int64_t own_cpu_ns  # CPU time the sampling thread itself used
    cdef bint started

    def __cinit__(self, targets, double period_s=0.001, double max_s=120.0):
        if not (period_s > 0 and max_s > 0):
            raise ValueError("period_s and max_s must be > 0")
        targets = [(int(target_id), bool(is_process)) for target_id, is_process in targets]
        self.count = len(targets)
        self.period_ns = max(1, <int64_t>(period_s * 1e9))
        self.capacity = <size_t>(max_s / period_s) + 1
        self.targets = <c.sampler_target *>malloc(max(1, self.count) * sizeof(c.sampler_target))
        self.buffer = <int64_t *>malloc(self.capacity * (self.count + 1) * sizeof(int64_t))
        self.wait_buffer = <int64_t *>malloc(self.capacity * max(1, self.count) * sizeof(int64_t))
        if self.targets == NULL or self.buffer == NULL or self.wait_buffer == NULL:
            raise MemoryError()
        for index, (target_id, is_process) in enumerate(targets):
            self.targets[index].id = target_id
            self.targets[index].is_process = is_process

    def start(self):
        """Start the sampling thread (OSError where it cannot run)."""
        if self.started:
            raise RuntimeError("a Sampler starts once")
        status = c.sampler_start(&self.handle, self.targets, self.count, self.period_ns, self.buffer,
                                 self.wait_buffer, self.capacity)
        if status != 0:
            raise OSError(status, f"the CPU-time sampler cannot start: {os.strerror(status)}"
                          + (" (it needs Linux)" if status == errno.ENOSYS else ""))
        self.started = True

    def stop(self):
        """Stop and join the sampling thread (within one period); then ``rows()`` holds the samples."""
        if self.handle != NULL:
            with nogil:  # the join waits for the thread's last sample: let other threads run meanwhile
                self.written = c.sampler_stop(self.handle, &self.own_cpu_ns)
            self.handle = NULL

    def rows(self):
        """[(monotonic ns, cpu ns of target 0, ...), ...]: -1 where a target could not be read."""
        width = self.count + 1
        return [tuple(self.buffer[row * width + i] for i in range(width)) for row in range(self.written)]

    def waits(self):
        """[(run delay ns of target 0, ...), ...], one per row of ``rows()``: the ns each thread
        has waited, runnable, for a CPU; -1 for a process target or where it could not be read.
        The kernel adds a wait when the thread gets its CPU: it shows in the row after it ended."""
        count = self.count
        return [tuple(self.wait_buffer[row * count + i] for i in range(count)) for row in range(self.written)]

    @property
    def full(self):
        """Whether sampling stopped because the buffer (``max_s``) ran out."""
        return self.written >= self.capacity

    def __dealloc__(self):
        if self.handle != NULL:
            c.sampler_stop(self.handle, NULL)
        free(self.buffer)
        free(self.wait_buffer)
        free(self.targets)




def now_ns():
    """The monotonic clock of :meth:`Control.run`'s start and deadline, in ns."""
    return c.control_now_ns()


cdef class Control:
    """The progress counters of the machine control's threads (csrc/spin.c), one per thread.

    Thread ``i`` calls ``run(i, cpu, start_ns, deadline_ns, chunk)``: with the GIL
    released, it pins itself to ``cpu``, spins until the start and runs the control
    workload until the deadline, counting each chunk as it ends. The counters live in
    C, so they can be read at the deadline even for a thread that is not running then
    (its CPU taken): how far each got is how much of its CPU it was lent."""

    cdef volatile uint64_t *counts
    cdef readonly size_t size

    def __cinit__(self, size_t size):
        self.size = size
        self.counts = <volatile uint64_t *>calloc(max(1, size), sizeof(uint64_t))
        if self.counts == NULL:
            raise MemoryError()

    def run(self, size_t index, int cpu, int64_t start_ns, int64_t deadline_ns, uint64_t chunk):
        if index >= self.size:
            raise IndexError(index)
        with nogil:  # pinning and spinning: no GIL held, so a thread whose CPU is taken blocks no other
            c.control_run(cpu, start_ns, deadline_ns, chunk, &self.counts[index])

    def chunks(self):
        """Chunks each thread has finished so far."""
        return [self.counts[i] for i in range(self.size)]

    def __dealloc__(self):
        free(<void *>self.counts)
