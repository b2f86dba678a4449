package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"math"
	"sort"
	"sync"
	"time"
)

// macKey computes HMAC-SHA256 under one key. A pool keeps keyed hmac states: crypto/hmac
// saves its ipad/opad state on the first Reset, so a pooled state does not rehash the key
// on every verify, and the pooled sum buffer keeps the call allocation-free.
type macKey struct {
	pool sync.Pool
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newMACKey(key []byte) *macKey {
	k := append([]byte(nil), key...)
	m := &macKey{}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, k)} }
	return m
}

// equal reports, in constant time, whether HMAC-SHA256(key, body) is tag.
func (m *macKey) equal(body, tag []byte) bool {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	s.h.Write(body)
	ok := hmac.Equal(s.h.Sum(s.sum[:0]), tag)
	m.pool.Put(s)
	return ok
}

// sum returns HMAC-SHA256(key, body) through the same pooled states (for the RFC tests).
func (m *macKey) sum(body []byte) (out [sha256.Size]byte) {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	s.h.Write(body)
	copy(out[:], s.h.Sum(s.sum[:0]))
	m.pool.Put(s)
	return out
}

// RevocationStatus is what a revocation source says about a GUID.
type RevocationStatus uint8

// Revocation statuses. Stale means the source refuses every token (its policy fails closed).
const (
	NotRevoked RevocationStatus = iota
	StatusDeactivated
	StatusRevoked
	StatusStale
)

// RevocationSource is anything a Verifier asks about a GUID once the token's MAC matched:
// a *RevocationStore, StaticRevocations, or your own.
type RevocationSource interface {
	Status(guid GUID, now int64) RevocationStatus
}

// StaticRevocations is a fixed GUID → status map (what the test vectors describe); never stale.
type StaticRevocations map[GUID]RevocationStatus

// Status returns the map's entry, NotRevoked if none.
func (s StaticRevocations) Status(guid GUID, _ int64) RevocationStatus { return s[guid] }

// Verifier verifies v1 tokens for one audience under a set of K_aud keys (by key ID).
// It is immutable after NewVerifier and safe for concurrent use.
type Verifier struct {
	audience    string
	keys        map[string]*macKey
	kids        map[string]string // the key ID strings, so claims reuse them
	leeway      int64
	revocations RevocationSource
}

// NewVerifier returns a verifier for audience with the given key ID → K_aud map (32-byte
// keys), leeway in seconds (DefaultLeeway is 60; 0-86400 allowed) and an optional
// revocation source (nil: nothing is revoked).
//
//	v, err := verify.NewVerifier("billing", map[string][]byte{"k1": key}, verify.DefaultLeeway, store)
func NewVerifier(audience string, keys map[string][]byte, leeway int, revocations RevocationSource) (*Verifier, error) {
	if !isAudience(audience) {
		return nil, &KeysetError{"audience is not [A-Za-z0-9._:-]{1,64}"}
	}
	if leeway < 0 || leeway > MaxLeeway {
		return nil, &KeysetError{"leeway must be 0..86400 seconds"}
	}
	v := &Verifier{audience: audience, keys: map[string]*macKey{}, kids: map[string]string{}, leeway: int64(leeway), revocations: revocations}
	for kid, key := range keys {
		if !isKeyID(kid) {
			return nil, &KeysetError{"token key id is not [A-Za-z0-9_-]{1,32}"}
		}
		if len(key) != 32 {
			return nil, &KeysetError{"token key " + kid + " must be 32 bytes"}
		}
		v.keys[kid] = newMACKey(key)
		v.kids[kid] = kid
	}
	return v, nil
}

// Audience is the audience this verifier accepts.
func (v *Verifier) Audience() string { return v.audience }

// Leeway is the clock leeway in seconds.
func (v *Verifier) Leeway() int { return int(v.leeway) }

// KeyIDs lists the token key IDs, sorted.
func (v *Verifier) KeyIDs() []string {
	out := make([]string, 0, len(v.kids))
	for k := range v.kids {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check verifies token now for permission p (the zero Permission asks for none) and returns
// its claims, or a *VerificationError naming the first check that failed (FORMAT.md §3).
// A valid token costs one allocation (its custom scope, if any); the error never contains
// the token.
//
//	claims, err := v.Check(token, verify.ReadPermission("devices.list"))
//	if err != nil {
//		return verify.ReasonOf(err) // "malformed", "revoked", "scope_not_granted", ...
//	}
func (v *Verifier) Check(token string, p Permission) (Claims, error) {
	return v.CheckAt(token, p, time.Now().Unix())
}

// CheckAt is Check at the given Unix time.
func (v *Verifier) CheckAt(token string, p Permission, now int64) (Claims, error) {
	c, authentic, err := v.verify(token, p, now)
	if err != nil || !authentic {
		return Claims{}, err
	}
	return c, nil
}

// Verify is CheckAt that also returns the claims of an authentic token that was refused
// (revoked, expired, out of scope...). Claims are never returned before the MAC matched:
// for malformed, wrong_audience, unknown_key and bad_signature they are zero.
func (v *Verifier) Verify(token string, p Permission, now int64) (Claims, error) {
	c, _, err := v.verify(token, p, now)
	return c, err
}

var scratchPool = sync.Pool{New: func() any { return new([maxDecoded]byte) }}

func (v *Verifier) verify(token string, perm Permission, now int64) (Claims, bool, error) {
	buf := scratchPool.Get().(*[maxDecoded]byte)
	defer scratchPool.Put(buf)
	var p parsed
	raw, ok := decodeToken(token, buf[:])
	if !ok || !parseBody(raw, &p) {
		return Claims{}, false, errMalformed
	}
	if string(p.audience) != v.audience {
		return Claims{}, false, errWrongAudience
	}
	key := v.keys[string(p.kid)]
	if key == nil { // never tried against another key
		return Claims{}, false, &VerificationError{Reason: UnknownKey, Detail: "key id " + string(p.kid)}
	}
	if !key.equal(p.raw[:p.end], p.raw[p.end:]) {
		return Claims{}, false, &VerificationError{Reason: BadSignature, Detail: "key id " + string(p.kid)}
	}
	// Only now is anything in the body trusted.
	c := p.claims(v.kids[string(p.kid)], v.audience)
	if v.revocations != nil {
		switch v.revocations.Status(c.GUID, now) {
		case StatusStale:
			return c, true, errStale
		case StatusRevoked:
			return c, true, errRevoked
		case StatusDeactivated:
			return c, true, errDeactivated
		}
	}
	// Exact answers without overflow: a sum past the int64 range is above every valid_from,
	// a difference below it is below every valid_to (FORMAT.md §3).
	if now <= math.MaxInt64-v.leeway && now+v.leeway < c.ValidFrom {
		return c, true, errNotYetValid
	}
	if c.ValidTo != 0 && now >= math.MinInt64+v.leeway && now-v.leeway >= c.ValidTo {
		return c, true, errExpired
	}
	if !c.Scope.Grants(perm) {
		return c, true, &VerificationError{Reason: ScopeNotGranted, Detail: perm.name}
	}
	return c, true, nil
}
