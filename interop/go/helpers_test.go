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

// listEntries reads a v1 list's key ID length and entries without checking its signature.
func listEntries(list []byte) (kidLength int, entries []entry) {
	kidLength = int(list[5])
	countAt := 6 + kidLength + 24
	count := int(binary.BigEndian.Uint32(list[countAt:]))
	for at := countAt + 4; at < countAt+4+entrySize*count; at += entrySize {
		var e entry
		copy(e.guid[:], list[at:at+16])
		e.status = list[at+16]
		entries = append(entries, e)
	}
	return kidLength, entries
}

// makeDelta is the delta (FORMAT.md §4.3) from the signed list from to the signed list to,
// as sigil-server builds it: every GUID whose status differs, in GUID order, then to's own
// signature. It signs nothing.
func makeDelta(from, to []byte) []byte {
	fromKid, a := listEntries(from)
	toKid, b := listEntries(to)
	var changes []entry
	for i, j := 0, 0; i < len(a) || j < len(b); {
		switch {
		case j == len(b) || (i < len(a) && bytes.Compare(a[i].guid[:], b[j].guid[:]) < 0):
			changes = append(changes, entry{a[i].guid, 0})
			i++
		case i == len(a) || bytes.Compare(b[j].guid[:], a[i].guid[:]) < 0:
			changes = append(changes, b[j])
			j++
		default:
			if a[i].status != b[j].status {
				changes = append(changes, b[j])
			}
			i++
			j++
		}
	}
	d := []byte("SGLD\x01")
	d = append(d, to[5:6+toKid]...)               // the resulting list's key ID
	d = append(d, from[6+fromKid:6+fromKid+8]...) // base_sequence
	d = append(d, to[6+toKid:6+toKid+28]...)      // sequence, issued_at, next_update, count
	d = binary.BigEndian.AppendUint32(d, uint32(len(changes)))
	for _, c := range changes {
		d = append(append(d, c.guid[:]...), c.status)
	}
	return append(d, to[len(to)-signatureSize:]...)
}
