#ifndef SIGIL_COPENSSL_SHIM_H
#define SIGIL_COPENSSL_SHIM_H

/* Deprecated APIs (HMAC_CTX_new, SHA256_Init, one-shot HMAC) vanish instead of warning. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * OSSL_PARAM keeps the pointers it is given, so the parameter arrays are built here with
 * string literals that live forever, never from Swift Strings whose storage dies early.
 */

/* Creates an HMAC-SHA256 context keyed with `key`. Returns NULL on failure. */
static inline EVP_MAC_CTX *sigil_hmac_sha256_new(const unsigned char *key, size_t key_len) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (ctx == NULL) return NULL;
    static const unsigned char empty = 0;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* EVP_MAC_init rejects a NULL key even with length 0. */
    if (EVP_MAC_init(ctx, key_len == 0 ? &empty : key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One MAC with an already keyed context: re-init (reuses the key state), update, final. */
static inline int sigil_hmac_compute(EVP_MAC_CTX *ctx, const unsigned char *msg, size_t msg_len,
                                     unsigned char *out32) {
    size_t written = 0;
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) return 0;
    if (EVP_MAC_update(ctx, msg, msg_len) != 1) return 0;
    if (EVP_MAC_final(ctx, out32, &written, 32) != 1) return 0;
    return written == 32;
}

/* HKDF-SHA256 (extract and expand) with an empty salt, as RFC 5869 section 2.2 allows. */
static inline int sigil_hkdf_sha256(const unsigned char *ikm, size_t ikm_len,
                                    const unsigned char *salt, size_t salt_len,
                                    const unsigned char *info, size_t info_len,
                                    unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kctx == NULL) return 0;
    static unsigned char empty = 0;
    OSSL_PARAM params[5];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                     ikm_len == 0 ? &empty : (void *)ikm, ikm_len);
    if (salt_len > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                     info_len == 0 ? &empty : (void *)info, info_len);
    params[n] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

/* Ed25519 signature over msg with a 32-byte seed. */
static inline int sigil_ed25519_sign(const unsigned char *seed32, const unsigned char *msg, size_t msg_len,
                                     unsigned char *sig64) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed32, 32);
    if (pkey == NULL) return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;
    size_t sig_len = 64;
    if (md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
        EVP_DigestSign(md, sig64, &sig_len, msg, msg_len) == 1 && sig_len == 64)
        ok = 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* 1 if sig64 is a valid Ed25519 signature of msg under pub32, 0 otherwise (including errors). */
static inline int sigil_ed25519_verify(const unsigned char *pub32, const unsigned char *msg, size_t msg_len,
                                       const unsigned char *sig, size_t sig_len) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub32, 32);
    if (pkey == NULL) return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;
    if (md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
        EVP_DigestVerify(md, sig, sig_len, msg, msg_len) == 1)
        ok = 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    ERR_clear_error(); /* a failed verify leaves errors that must not leak into later calls */
    return ok;
}

/* Derives the 32-byte Ed25519 public key from a 32-byte seed. */
static inline int sigil_ed25519_public(const unsigned char *seed32, unsigned char *pub32) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed32, 32);
    if (pkey == NULL) return 0;
    size_t len = 32;
    int ok = EVP_PKEY_get_raw_public_key(pkey, pub32, &len) == 1 && len == 32;
    EVP_PKEY_free(pkey);
    return ok;
}

/*
 * HMAC-SHA256 from precomputed inner and outer SHA-256 states (RFC 2104), for the verify hot
 * path. OpenSSL 3.0's EVP_MAC_init/EVP_MAC_final duplicate the digest context on every MAC
 * (two mallocs); copying a 112-byte state on the stack allocates nothing.
 *
 * SHA256_Init/Update/Final are deprecated in OpenSSL 3 but exported by every 3.x libcrypto.
 * OPENSSL_NO_DEPRECATED (above) hides their declarations, so they are declared here, over a
 * struct with the layout of SHA256state_st in <openssl/sha.h> (unchanged since 0.9.8).
 */
typedef struct sigil_sha256_state {
    unsigned int h[8];
    unsigned int Nl, Nh;
    unsigned int data[16];
    unsigned int num, md_len;
} sigil_sha256_state;
_Static_assert(sizeof(sigil_sha256_state) == 112, "SHA256_CTX is 112 bytes");

int SHA256_Init(sigil_sha256_state *c);
int SHA256_Update(sigil_sha256_state *c, const void *data, size_t len);
int SHA256_Final(unsigned char *md, sigil_sha256_state *c);

/* Hashes ipad- and opad-masked `key` into `inner` and `outer`. Keys over 64 bytes are hashed
 * first, as RFC 2104 says. Returns 1 on success. */
static inline int sigil_hmac_sha256_prepare(const unsigned char *key, size_t key_len, sigil_sha256_state *inner,
                                            sigil_sha256_state *outer) {
    unsigned char block[64];
    unsigned char pad[64];
    memset(block, 0, sizeof block);
    if (key_len > 64) {
        sigil_sha256_state hashed;
        if (SHA256_Init(&hashed) != 1 || SHA256_Update(&hashed, key, key_len) != 1 ||
            SHA256_Final(block, &hashed) != 1)
            return 0;
    } else if (key_len > 0) {
        memcpy(block, key, key_len);
    }
    int ok = 1;
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    ok = ok && SHA256_Init(inner) == 1 && SHA256_Update(inner, pad, 64) == 1;
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && SHA256_Init(outer) == 1 && SHA256_Update(outer, pad, 64) == 1;
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
}

/* HMAC-SHA256 of msg into out32 from prepared states, which are only read. SHA256_Final
 * leaves only the digest in the stack copy (it wipes the data block), so nothing key-derived
 * stays behind on the stack once a MAC is done. Returns 1 on success. */
static inline int sigil_hmac_sha256_prepared(const sigil_sha256_state *inner, const sigil_sha256_state *outer,
                                             const unsigned char *msg, size_t msg_len, unsigned char *out32) {
    sigil_sha256_state ctx = *inner;
    unsigned char digest[32];
    if (SHA256_Update(&ctx, msg, msg_len) != 1 || SHA256_Final(digest, &ctx) != 1) return 0;
    ctx = *outer;
    if (SHA256_Update(&ctx, digest, 32) != 1 || SHA256_Final(out32, &ctx) != 1) return 0;
    return 1;
}

#endif
