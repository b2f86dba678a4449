package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// Test material: published test-only values, never real keys.
var (
	testKey  = seq(0, 32)
	testSeed = bytes.Repeat([]byte{0x11}, 32)
)

const testAudience = "billing"

func seq(from, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(from + i)
	}
	return out
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in a fixture: %v", err)
	}
	return b
}

// repoPath is a path relative to the repository root (interop/go is two levels down).
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

// sharedVector is a crypto vector file copied from ../shared/vectors into testdata.
func sharedVector(name string) string { return filepath.Join("testdata", name) }

func readJSON(t testing.TB, path string, into any) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return true
}

func randomGUID() GUID {
	var g GUID
	if _, err := rand.Read(g[:]); err != nil {
		panic(err)
	}
	return g
}

// makeToken returns a token valid now under testKey, and its GUID.
func makeToken(scope Scope) (string, GUID) {
	g := randomGUID()
	now := time.Now().Unix()
	return Mint(Claims{KeyID: "k1", Audience: testAudience, GUID: g, ValidFrom: now - 60, ValidTo: now + 3600, Scope: scope}, testKey), g
}

type entry struct {
	guid   GUID
	status byte
}

// makeList signs a v1 list of entries (sorted here) with seed under key ID r1.
func makeList(entries []entry, sequence uint64, nextUpdate int64, seed []byte) []byte {
	items := append([]entry(nil), entries...)
	sort.Slice(items, func(i, j int) bool { return bytes.Compare(items[i].guid[:], items[j].guid[:]) < 0 })
	b := []byte("SGLR\x01\x02r1")
	b = binary.BigEndian.AppendUint64(b, sequence)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(nextUpdate))
	b = binary.BigEndian.AppendUint32(b, uint32(len(items)))
	for _, e := range items {
		b = append(append(b, e.guid[:]...), e.status)
	}
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), append([]byte(RevocationContext), b...))
	return append(b, sig...)
}

// damageSignature flips a bit of R, the signature's first half: always invalid, unlike
// overwriting the last byte, which is already 0 in about one signature in sixteen.
func damageSignature(data []byte) []byte {
	out := append([]byte(nil), data...)
	out[len(out)-64] ^= 0x01
	return out
}

func publicKey(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func testKeys() map[string]ed25519.PublicKey {
	return map[string]ed25519.PublicKey{"r1": publicKey(testSeed)}
}

func newStore(policy Policy, opts ...StoreOption) *RevocationStore {
	return NewRevocationStore(testKeys(), policy, opts...)
}

func newVerifier(t testing.TB, revocations RevocationSource) *Verifier {
	t.Helper()
	v, err := NewVerifier(testAudience, map[string][]byte{"k1": testKey}, DefaultLeeway, revocations)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keysetJSON(public ed25519.PublicKey) []byte {
	out, _ := json.Marshal(map[string]any{
		"format":          KeysetFormat,
		"audience":        testAudience,
		"token_keys":      []map[string]string{{"kid": "k1", "key": EncodeBase64URL(testKey)}},
		"revocation_keys": []map[string]string{{"kid": "r1", "public_key": EncodeBase64URL(public)}},
	})
	return out
}

// waitUntil polls check every 10 ms for up to timeout.
func waitUntil(timeout time.Duration, check func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if check() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return check()
}
