/*
 * The limits Sigil is measured against: what the same work costs in C with bare OpenSSL calls.
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "CBenchSupport.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>

struct bench_hmac {
    EVP_MAC_CTX *ctx;
};

bench_hmac *bench_hmac_new(const uint8_t *key, size_t key_len) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (ctx == NULL) return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    static const unsigned char empty = 0;
    if (EVP_MAC_init(ctx, key_len == 0 ? &empty : key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    bench_hmac *hmac = malloc(sizeof *hmac);
    if (hmac == NULL) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    hmac->ctx = ctx;
    return hmac;
}

void bench_hmac_free(bench_hmac *hmac) {
    if (hmac == NULL) return;
    EVP_MAC_CTX_free(hmac->ctx);
    free(hmac);
}

long bench_hmac_limit_loop(bench_hmac *hmac, const uint8_t *body, size_t body_len, const uint8_t *tag32,
                           long iterations) {
    unsigned char out[32];
    long matches = 0;
    for (long i = 0; i < iterations; i++) {
        size_t written = 0;
        if (EVP_MAC_init(hmac->ctx, NULL, 0, NULL) != 1) return -1;
        if (EVP_MAC_update(hmac->ctx, body, body_len) != 1) return -1;
        if (EVP_MAC_final(hmac->ctx, out, &written, sizeof out) != 1 || written != 32) return -1;
        matches += CRYPTO_memcmp(out, tag32, 32) == 0;
    }
    return matches;
}

int bench_ed25519_public(const uint8_t *seed32, uint8_t *pub32) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed32, 32);
    if (pkey == NULL) return 0;
    size_t len = 32;
    int ok = EVP_PKEY_get_raw_public_key(pkey, pub32, &len) == 1 && len == 32;
    EVP_PKEY_free(pkey);
    return ok;
}

int bench_ed25519_verify(const uint8_t *pub32, const uint8_t *msg, size_t msg_len, const uint8_t *sig64) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub32, 32);
    if (pkey == NULL) return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestVerify(md, sig64, 64, msg, msg_len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return ok;
}
