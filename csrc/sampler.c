/* sampler.c - see sampler.h. */
#include "sampler.h"

#include <errno.h>
#include <stdlib.h>

#ifdef __linux__
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct sampler {
    pthread_t thread;
    atomic_int stop;          /* set by sampler_stop, read by the sampling thread */
    clockid_t *clocks;        /* one CPU-time clock per target */
    int *schedstats;          /* per target: its open schedstat file, or -1 (a process; unreadable) */
    size_t count;
    int64_t period_ns;
    int64_t *rows;            /* the caller's buffer: capacity x (count + 1) */
    int64_t *waits;           /* the caller's buffer: capacity x count, or NULL (not read) */
    size_t capacity;
    size_t written;           /* owned by the sampling thread until it is joined */
    int64_t own_cpu_ns;
};

/* Linux names the CPU-time clock of a thread or process by its id: (~id << 3) | kind,
 * kind 2 = scheduler time of a process, 6 = of one thread (what glibc's
 * clock_getcpuclockid() and pthread_getcpuclockid() build). Unsigned arithmetic:
 * shifting a negative int is undefined in C. A thread of *another* process cannot be
 * read this way (the kernel refuses): threads are watched only in this process. */
static clockid_t cpu_clock_of(const sampler_target *target)
{
    unsigned int kind = target->is_process ? 2u : 6u;
    return (clockid_t)((~(unsigned int)target->id << 3) | kind);
}

/* A thread's schedstat file, opened once: "/proc/self/task/<tid>/schedstat"; -1 for a
 * process target, or where it cannot be opened (the thread has ended, or a kernel
 * without CONFIG_SCHED_INFO). */
static int open_schedstat(const sampler_target *target)
{
    char path[64];

    if (target->is_process)
        return -1;
    snprintf(path, sizeof path, "/proc/self/task/%lld/schedstat", (long long)target->id);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The run delay from a schedstat file: its text is "<ns on a CPU> <ns runnable,
 * waiting on a run queue> <timeslices>\n"; the second field, or -1. pread at
 * offset 0 re-reads the file afresh each time (no seek, no reopen). */
static int64_t run_delay_of(int fd)
{
    char text[96];
    char *field, *end;
    ssize_t got;
    long long delay;

    if (fd < 0)
        return -1;
    got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0)
        return -1;  /* the thread has ended (ESRCH) */
    text[got] = '\0';
    strtoull(text, &field, 10);  /* skip the first field */
    if (field == text)
        return -1;
    delay = strtoll(field, &end, 10);
    return end == field || delay < 0 ? -1 : (int64_t)delay;
}

static void close_schedstats(struct sampler *s)
{
    for (size_t i = 0; s->schedstats != NULL && i < s->count; i++)
        if (s->schedstats[i] >= 0)
            close(s->schedstats[i]);
    free(s->schedstats);
}

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void add_ns(struct timespec *t, int64_t ns)
{
    int64_t total = (int64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(total / 1000000000);
    t->tv_nsec = (long)(total % 1000000000);
}

static void *sample(void *arg)
{
    struct sampler *s = arg;
    struct timespec now, next, cpu;

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&s->stop) && s->written < s->capacity) {
        int64_t *row = s->rows + s->written * (s->count + 1);
        clock_gettime(CLOCK_MONOTONIC, &now);
        row[0] = ns_of(&now);
        for (size_t i = 0; i < s->count; i++)
            row[1 + i] = clock_gettime(s->clocks[i], &cpu) == 0 ? ns_of(&cpu) : -1;  /* -1: gone */
        if (s->waits != NULL)
            for (size_t i = 0; i < s->count; i++)
                s->waits[s->written * s->count + i] = run_delay_of(s->schedstats[i]);
        s->written++;
        /* Sleep to the next tick of a fixed grid, so the period does not drift; a
         * tick missed (this thread was not scheduled) is skipped, not caught up. */
        add_ns(&next, s->period_ns);
        if (ns_of(&next) < ns_of(&now)) {
            next = now;
            add_ns(&next, s->period_ns);
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    s->own_cpu_ns = ns_of(&cpu);
    return NULL;
}

int sampler_start(sampler **out, const sampler_target *targets, size_t count, int64_t period_ns,
                  int64_t *rows, int64_t *waits, size_t capacity)
{
    struct sampler *s;
    int status;

    if (out == NULL || rows == NULL || period_ns <= 0 || (count > 0 && targets == NULL))
        return EINVAL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->clocks = calloc(count ? count : 1, sizeof *s->clocks);
    s->schedstats = calloc(count ? count : 1, sizeof *s->schedstats);
    if (s->clocks == NULL || s->schedstats == NULL) {
        free(s->clocks);
        free(s->schedstats);
        free(s);
        return ENOMEM;
    }
    s->count = count;
    for (size_t i = 0; i < count; i++) {
        s->clocks[i] = cpu_clock_of(&targets[i]);
        s->schedstats[i] = waits != NULL ? open_schedstat(&targets[i]) : -1;
    }
    s->period_ns = period_ns;
    s->rows = rows;
    s->waits = waits;
    s->capacity = capacity;
    atomic_init(&s->stop, 0);
    status = pthread_create(&s->thread, NULL, sample, s);
    if (status != 0) {
        close_schedstats(s);
        free(s->clocks);
        free(s);
        return status;
    }
    *out = s;
    return 0;
}

size_t sampler_stop(sampler *s, int64_t *own_cpu_ns)
{
    size_t written;

    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);  /* at most one period */
    written = s->written;
    if (own_cpu_ns != NULL)
        *own_cpu_ns = s->own_cpu_ns;
    close_schedstats(s);
    free(s->clocks);
    free(s);
    return written;
}

#else /* not Linux: thread CPU clocks are not addressable by thread id */

int sampler_start(sampler **out, const sampler_target *targets, size_t count, int64_t period_ns,
                  int64_t *rows, int64_t *waits, size_t capacity)
{
    (void)out; (void)targets; (void)count; (void)period_ns; (void)rows; (void)waits; (void)capacity;
    return ENOSYS;
}

size_t sampler_stop(sampler *s, int64_t *own_cpu_ns)
{
    (void)s;
    if (own_cpu_ns != NULL)
        *own_cpu_ns = 0;
    return 0;
}

#endif
