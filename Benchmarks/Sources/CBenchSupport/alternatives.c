/*
 * Two ways to compute HMAC-SHA256 with OpenSSL 3.0 that allocate nothing per call, to show
 * what the EVP_MAC re-init path (which duplicates digest contexts) costs. Reference figures only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* SHA256_Init & co. are deprecated in OpenSSL 3 */

#include "CBenchSupport.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

static long evp_digest_reinit(const uint8_t *key32, const uint8_t *body, size_t body_len, const uint8_t *tag32,
                              long iterations) {
    unsigned char ipad[64], opad[64], inner[32], out[32];
    memset(ipad, 0x36, sizeof ipad);
    memset(opad, 0x5c, sizeof opad);
    for (int i = 0; i < 32; i++) {
        ipad[i] ^= key32[i];
        opad[i] ^= key32[i];
    }
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    long matches = -1;
    if (sha256 == NULL || ctx == NULL) goto done;
    matches = 0;
    for (long i = 0; i < iterations; i++) {
        unsigned int n = 0;
        if (EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, ipad, 64) != 1 ||
            EVP_DigestUpdate(ctx, body, body_len) != 1 || EVP_DigestFinal_ex(ctx, inner, &n) != 1 ||
            EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, opad, 64) != 1 ||
            EVP_DigestUpdate(ctx, inner, 32) != 1 || EVP_DigestFinal_ex(ctx, out, &n) != 1) {
            matches = -1;
            break;
        }
        matches += CRYPTO_memcmp(out, tag32, 32) == 0;
    }
done:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(sha256);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    return matches;
}

static long sha256_ctx_copy(const uint8_t *key32, const uint8_t *body, size_t body_len, const uint8_t *tag32,
                            long iterations) {
    unsigned char pad[64], inner[32], out[32];
    SHA256_CTX istate, ostate, work;
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < 32; i++) pad[i] ^= key32[i];
    SHA256_Init(&istate);
    SHA256_Update(&istate, pad, 64);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < 32; i++) pad[i] ^= key32[i];
    SHA256_Init(&ostate);
    SHA256_Update(&ostate, pad, 64);
    OPENSSL_cleanse(pad, sizeof pad);
    long matches = 0;
    for (long i = 0; i < iterations; i++) {
        work = istate;
        SHA256_Update(&work, body, body_len);
        SHA256_Final(inner, &work);
        work = ostate;
        SHA256_Update(&work, inner, 32);
        SHA256_Final(out, &work);
        matches += CRYPTO_memcmp(out, tag32, 32) == 0;
    }
    OPENSSL_cleanse(&istate, sizeof istate);
    OPENSSL_cleanse(&ostate, sizeof ostate);
    return matches;
}

long bench_hmac_alternative_loop(int kind, const uint8_t *key32, const uint8_t *body, size_t body_len,
                                 const uint8_t *tag32, long iterations) {
    switch (kind) {
    case 0: return evp_digest_reinit(key32, body, body_len, tag32, iterations);
    case 1: return sha256_ctx_copy(key32, body, body_len, tag32, iterations);
    default: return -1;
    }
}
