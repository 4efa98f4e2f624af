/* spin.c - see spin.h. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE  /* sched_setaffinity, CPU_SET */
#endif
#include "spin.h"

#ifdef _WIN32
#include <windows.h>

static int64_t monotonic_ns(void)
{
    LARGE_INTEGER count, frequency;

    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (int64_t)((double)count.QuadPart * 1e9 / (double)frequency.QuadPart);
}

static void pin(int cpu)
{
    (void)cpu;
}
#else
#include <time.h>
#ifdef __linux__
#include <sched.h>
#endif

static int64_t monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void pin(int cpu)
{
#ifdef __linux__
    cpu_set_t set;

    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);  /* 0: the calling thread; a failure leaves it unpinned */
#else
    (void)cpu;
#endif
}
#endif

int64_t control_now_ns(void)
{
    return monotonic_ns();
}

/* `rounds` xorshift64 steps: in registers, no memory touched. */
/* A small call tree of the shape the burn kernels recurse in. The control must feel what they
 * feel: on this VM two CPUs busy with deep recursion at once can each run at half speed (the
 * "two speeds" of the burn), while a loop in registers alone runs on untouched -- a control of
 * xorshift only read 2.0 cores lent while both nogil threads ran at parallelism 2.00 and 1.03x. */
static uint64_t tree(unsigned int n)
{
    return n < 2 ? n : tree(n - 1) + tree(n - 2);
}

static uint64_t spin(uint64_t rounds, uint64_t x)
{
    for (uint64_t i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x += tree(8 + (unsigned int)(x & 1));  /* the argument depends on x: not hoisted out */
    }
    return x;
}

uint64_t control_run(int cpu, int64_t start_ns, int64_t deadline_ns, uint64_t chunk, volatile uint64_t *chunks)
{
    uint64_t state = 0x9E3779B97F4A7C15u;  /* xorshift never leaves 0: start elsewhere */
    /* volatile: the result must be kept, or the compiler may drop the work */
    volatile uint64_t sink;

    pin(cpu);
    /* Wait for the start busy, not asleep: a thread the scheduler wakes gets a burst of its CPU
     * ahead of the task already there (CFS's wake-up credit, ~3 ms), which would hide a hog from
     * a 2 ms window. Running from before the start, it gets no more than its fair share. */
    while (monotonic_ns() < start_ns)
        state = spin(16, state);
    while (monotonic_ns() < deadline_ns) {
        state = spin(chunk, state);
        *chunks += 1;  /* only this thread writes it; an aligned 64-bit store is never torn */
    }
    sink = state;
    (void)sink;
    return *chunks;
}
