#ifndef SIGIL_CBENCHSUPPORT_H
#define SIGIL_CBENCHSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The bench's C side: the bare-crypto limits Sigil is compared against, and a malloc counter.
 * Nothing here is used by Sigil itself.
 */

/* ---- Allocation counting (alloc_counter.c) ----
 * This target defines malloc, calloc, realloc, free, posix_memalign, aligned_alloc and memalign.
 * Linked into the sigil-bench executable they interpose glibc's for every shared library too
 * (libswiftCore, libcrypto), and forward to glibc's __libc_* entry points. Counting is off except
 * between bench_alloc_start and bench_alloc_stop, and counts every thread. */
typedef struct {
    uint64_t allocations; /* malloc + calloc + realloc + the aligned variants */
    uint64_t frees;       /* free of a non-NULL pointer */
    uint64_t bytes;       /* bytes requested by those allocations */
} bench_alloc_counts;

void bench_alloc_start(void);
bench_alloc_counts bench_alloc_stop(void);

/* This thread's CPU time in nanoseconds: clock_gettime(CLOCK_THREAD_CPUTIME_ID) (alloc_counter.c). */
uint64_t bench_thread_cpu_ns(void);

/* Makes the calling thread SCHED_FIFO with `priority` (pthread_setschedparam), so other work on a
 * shared machine cannot take its core. 0 on success, else an errno (EPERM without CAP_SYS_NICE). */
int bench_make_thread_realtime(int priority);
/* Puts the calling thread back to SCHED_OTHER. 0 on success. */
int bench_make_thread_normal(void);

/* ---- HMAC-SHA256 limit (limits.c) ---- */
typedef struct bench_hmac bench_hmac;

/* A keyed EVP_MAC HMAC-SHA256 context, made once. NULL on failure. */
bench_hmac *bench_hmac_new(const uint8_t *key, size_t key_len);
void bench_hmac_free(bench_hmac *hmac);

/* `iterations` times: EVP_MAC_init(ctx, NULL, 0, NULL) (re-use the key), EVP_MAC_update over
 * body, EVP_MAC_final, CRYPTO_memcmp against tag32. Returns how many tags matched, or -1 if
 * OpenSSL failed. */
long bench_hmac_limit_loop(bench_hmac *hmac, const uint8_t *body, size_t body_len, const uint8_t *tag32,
                           long iterations);

/* ---- Zero-allocation HMAC-SHA256 alternatives, for comparison (alternatives.c) ----
 * Each computes HMAC-SHA256(key, body) `iterations` times and compares with tag32; returns the
 * number of matches or -1. `kind`: 0 = EVP_DigestInit_ex2 on two reused EVP_MD_CTX (ipad and opad
 * blocks hashed on every call, no precomputed state); 1 = precomputed ipad/opad SHA256_CTX states
 * copied by value (the low-level SHA256_* API, deprecated in OpenSSL 3). */
long bench_hmac_alternative_loop(int kind, const uint8_t *key32, const uint8_t *body, size_t body_len,
                                 const uint8_t *tag32, long iterations);

/* ---- Ed25519 limit (limits.c) ---- */

/* The public key of a 32-byte seed. 1 on success. */
int bench_ed25519_public(const uint8_t *seed32, uint8_t *pub32);

/* A bare OpenSSL Ed25519 verify (EVP_PKEY_new_raw_public_key + EVP_DigestVerify) of sig64 over
 * msg. 1 if valid, 0 otherwise. */
int bench_ed25519_verify(const uint8_t *pub32, const uint8_t *msg, size_t msg_len, const uint8_t *sig64);

#endif
