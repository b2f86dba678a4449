/*
 * Counts heap allocations by interposing the allocator, like swift-nio's allocation-counter
 * tests. Defined in the executable, these symbols take precedence over glibc's for every shared
 * object in the process. They forward to glibc's __libc_* entry points (exported since
 * GLIBC_2.2.5), so no dlsym(RTLD_NEXT) bootstrap is needed: dlsym itself may call calloc.
 */
#include "CBenchSupport.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_int counting;
static atomic_uint_fast64_t allocations;
static atomic_uint_fast64_t frees;
static atomic_uint_fast64_t bytes;

static inline void note_allocation(size_t size) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
    }
}

static inline void note_free(void *pointer) {
    if (pointer != NULL && atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
}

void bench_alloc_start(void) {
    atomic_store(&allocations, 0);
    atomic_store(&frees, 0);
    atomic_store(&bytes, 0);
    atomic_store(&counting, 1);
}

bench_alloc_counts bench_alloc_stop(void) {
    atomic_store(&counting, 0);
    bench_alloc_counts counts = {atomic_load(&allocations), atomic_load(&frees), atomic_load(&bytes)};
    return counts;
}

void *malloc(size_t size) {
    note_allocation(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note_allocation(count * size);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    /* realloc(p, 0) frees; realloc(NULL, n) allocates; anything else may move: count it as one. */
    if (size == 0 && pointer != NULL)
        note_free(pointer);
    else
        note_allocation(size);
    return __libc_realloc(pointer, size);
}

void free(void *pointer) {
    note_free(pointer);
    __libc_free(pointer);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    note_allocation(size);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *out = pointer;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    note_allocation(size);
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
    note_allocation(size);
    return __libc_memalign(alignment, size);
}

uint64_t bench_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_make_thread_realtime(int priority) {
    struct sched_param param = {.sched_priority = priority};
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

int bench_make_thread_normal(void) {
    struct sched_param param = {.sched_priority = 0};
    return pthread_setschedparam(pthread_self(), SCHED_OTHER, &param);
}
