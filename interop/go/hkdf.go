package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// HKDFSHA256 is RFC 5869 extract then expand with SHA-256; an empty salt means 32 zero
// bytes (RFC 5869 §2.2). length is 1..8160.
func HKDFSHA256(ikm, salt, info []byte, length int) ([]byte, error) {
	if length < 1 || length > 255*sha256.Size {
		return nil, errors.New("sigil: HKDF-SHA256 output length must be 1..8160 bytes")
	}
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	extract := hmac.New(sha256.New, salt)
	extract.Write(ikm)
	prk := extract.Sum(nil)
	expand := hmac.New(sha256.New, prk)
	var okm, block []byte
	for counter := byte(1); len(okm) < length; counter++ {
		expand.Reset()
		expand.Write(block)
		expand.Write(info)
		expand.Write([]byte{counter})
		block = expand.Sum(nil)
		okm = append(okm, block...)
	}
	return okm[:length], nil
}

// AudienceKey derives K_aud = HKDF-SHA256(master secret, salt empty,
// info "sigil/v1/token" 0x00 audience, 32) (FORMAT.md §1.3). Issuers call this; services
// receive K_aud in their keyset and never see a master secret.
func AudienceKey(masterSecret []byte, audience string) ([]byte, error) {
	if len(masterSecret) != 32 {
		return nil, errors.New("sigil: a master secret is 32 bytes")
	}
	if !isAudience(audience) {
		return nil, errors.New("sigil: audience must be 1-64 characters of [A-Za-z0-9._:-]")
	}
	return HKDFSHA256(masterSecret, nil, append([]byte("sigil/v1/token\x00"), audience...), 32)
}

// Mint returns "sgl_" + base64url(body || HMAC-SHA256(key, body)). It does not check c:
// tests use it to build deliberately broken tokens. Services never mint.
func Mint(c Claims, key []byte) string {
	body := EncodeBody(c)
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return TokenPrefix + EncodeBase64URL(mac.Sum(body))
}
