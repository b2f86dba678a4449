package verify

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryByteChangeTruncationAndExtensionIsRefused(t *testing.T) {
	v := newVerifier(t, nil)
	for _, scope := range []Scope{{Kind: ScopeAll}, {Kind: ScopeReadOnly}, CustomScope("devices.list", "invoices.read")} {
		token, g := makeToken(scope)
		c, err := v.Check(token, Permission{})
		if err != nil || c.GUID != g || c.Scope.String() != scope.String() {
			t.Fatalf("the good token: %v %+v", err, c)
		}
		alphabet := b64Alphabet + "=+/ .\x00é"
		for i := 0; i < len(token); i++ {
			for _, r := range alphabet {
				changed := token[:i] + string(r) + token[i+1:]
				if changed == token {
					continue
				}
				if _, err := v.Check(changed, Permission{}); err == nil {
					t.Fatalf("a token changed at %d was accepted", i)
				}
			}
		}
		for n := 0; n < len(token); n++ {
			if _, err := v.Check(token[:n], Permission{}); err == nil {
				t.Fatalf("the token cut to %d characters was accepted", n)
			}
		}
		for _, extra := range []string{"A", "AA", "AAA", "AAAA", "=", "\n", " "} {
			if _, err := v.Check(token+extra, Permission{}); err == nil {
				t.Fatalf("the token with %q appended was accepted", extra)
			}
		}
	}
}

func TestTextLevelRefusals(t *testing.T) {
	v := newVerifier(t, nil)
	token, _ := makeToken(Scope{Kind: ScopeAll})
	long := TokenPrefix + strings.Repeat("A", MaxTokenText)
	for name, text := range map[string]string{
		"empty": "", "prefix only": "sgl_", "other prefix": "SGL_" + token[4:], "padding": token + "=",
		"too long": long, "whitespace": " " + token, "one mod four": token + "A", "short": "sgl_AAAA",
	} {
		_, err := v.Check(text, Permission{})
		if ReasonOf(err) != Malformed {
			t.Errorf("%s: %v", name, err)
		}
		if text != "" && strings.Contains(err.Error(), text) {
			t.Errorf("%s: the error echoes the token", name)
		}
	}
}

func TestCheckOrderAndReasons(t *testing.T) {
	now := time.Now().Unix()
	g := randomGUID()
	store := StaticRevocations{}
	v := newVerifier(t, store)
	mint := func(from, to int64, scope Scope, key []byte, kid, aud string) string {
		return Mint(Claims{KeyID: kid, Audience: aud, GUID: g, ValidFrom: from, ValidTo: to, Scope: scope}, key)
	}
	all := Scope{Kind: ScopeAll}
	otherKey := seq(1, 32)
	cases := []struct {
		name  string
		token string
		p     Permission
		want  Reason
	}{
		{"wrong audience before unknown key", mint(now, 0, all, otherKey, "k9", "invoices"), Permission{}, WrongAudience},
		{"unknown key before bad signature", mint(now, 0, all, otherKey, "k9", testAudience), Permission{}, UnknownKey},
		{"bad signature before expiry", mint(1, 2, all, otherKey, "k1", testAudience), Permission{}, BadSignature},
		{"not yet valid", mint(now+61, 0, all, testKey, "k1", testAudience), Permission{}, NotYetValid},
		{"leeway edge of valid_from", mint(now+60, 0, all, testKey, "k1", testAudience), Permission{}, ""},
		{"expired", mint(now-1000, now-60, all, testKey, "k1", testAudience), Permission{}, Expired},
		{"leeway edge of valid_to", mint(now-1000, now-59, all, testKey, "k1", testAudience), Permission{}, ""},
		{"expired before scope", mint(1, 2, Scope{Kind: ScopeReadOnly}, testKey, "k1", testAudience), WritePermission("a.b"), Expired},
		{"read-only refuses a write", mint(now, 0, Scope{Kind: ScopeReadOnly}, testKey, "k1", testAudience), WritePermission("a.b"), ScopeNotGranted},
		{"read-only grants a read", mint(now, 0, Scope{Kind: ScopeReadOnly}, testKey, "k1", testAudience), ReadPermission("a.b"), ""},
		{"custom grants its names whatever the access", mint(now, 0, CustomScope("a.b"), testKey, "k1", testAudience), WritePermission("a.b"), ""},
		{"custom has no prefixes", mint(now, 0, CustomScope("a.b"), testKey, "k1", testAudience), ReadPermission("a.bc"), ScopeNotGranted},
	}
	for _, c := range cases {
		_, err := v.CheckAt(c.token, c.p, now)
		if ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	token := mint(1, 2, all, testKey, "k1", testAudience)
	for status, want := range map[RevocationStatus]Reason{StatusStale: RevocationsStale, StatusRevoked: Revoked, StatusDeactivated: Deactivated} {
		store[g] = status
		claims, err := v.Verify(token, WritePermission("a.b"), now)
		if ReasonOf(err) != want || claims.GUID != g {
			t.Errorf("status %d: %v (claims of an authentic token: %v)", status, err, claims.GUID)
		}
		if _, err := v.CheckAt(token, Permission{}, now); ReasonOf(err) != want {
			t.Errorf("status %d before the times: %v", status, err)
		}
	}
	if _, err := v.CheckAt("sgl_x", Permission{}, now); !errors.As(err, new(*VerificationError)) {
		t.Errorf("not a *VerificationError: %T", err)
	}
}

func TestTimesWithoutOverflow(t *testing.T) {
	v, _ := NewVerifier(testAudience, map[string][]byte{"k1": testKey}, MaxLeeway, nil)
	mint := func(from, to int64) string {
		return Mint(Claims{KeyID: "k1", Audience: testAudience, ValidFrom: from, ValidTo: to, Scope: Scope{Kind: ScopeAll}}, testKey)
	}
	for _, c := range []struct {
		from, to, now int64
		want          Reason
	}{
		{math.MaxInt64, 0, math.MaxInt64, ""},
		{math.MaxInt64, 0, math.MaxInt64 - MaxLeeway - 1, NotYetValid},
		{math.MinInt64, math.MinInt64 + 1, math.MinInt64, ""},
		{math.MinInt64, math.MaxInt64, math.MaxInt64, ""},
		{math.MinInt64, math.MinInt64 + 1, math.MinInt64 + MaxLeeway + 1, Expired},
		{math.MinInt64, 0, math.MinInt64, ""},
	} {
		if _, err := v.CheckAt(mint(c.from, c.to), Permission{}, c.now); ReasonOf(err) != c.want {
			t.Errorf("from %d to %d at %d: %v, want %q", c.from, c.to, c.now, err, c.want)
		}
	}
}

func TestConfigurationErrors(t *testing.T) {
	for name, build := range map[string]func() error{
		"bad audience":   func() error { _, err := NewVerifier("bad audience", nil, 60, nil); return err },
		"leeway":         func() error { _, err := NewVerifier("a", nil, MaxLeeway+1, nil); return err },
		"negative":       func() error { _, err := NewVerifier("a", nil, -1, nil); return err },
		"short key":      func() error { _, err := NewVerifier("a", map[string][]byte{"k": {1}}, 60, nil); return err },
		"bad key id":     func() error { _, err := NewVerifier("a", map[string][]byte{"k!": testKey}, 60, nil); return err },
		"bad permission": func() error { _, err := NewPermission("Devices.list", Read); return err },
		"bad access":     func() error { _, err := NewPermission("devices.list", 0); return err },
		"two dots":       func() error { _, err := NewPermission("a.b.c", Read); return err },
	} {
		if build() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ReadPermission accepted a bad name")
		}
	}()
	ReadPermission("nope")
}

func TestValidVerifyAllocatesAtMostOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	store := newStore(FailClosed)
	var entries []entry
	for i := 0; i < 1000; i++ {
		entries = append(entries, entry{randomGUID(), 2})
	}
	if _, err := store.Load(makeList(entries, 1, 0, testSeed)); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, store)
	token, _ := makeToken(CustomScope("devices.list", "invoices.read"))
	p := ReadPermission("devices.list")
	if _, err := v.Check(token, p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() { _, _ = v.Check(token, p) })
	if allocs > 1 {
		t.Errorf("%.1f allocations per valid verify, want at most 1 (the custom scope)", allocs)
	}
	all, _ := makeToken(Scope{Kind: ScopeAll})
	if allocs := testing.AllocsPerRun(200, func() { _, _ = v.Check(all, p) }); allocs > 0 {
		t.Errorf("%.1f allocations per valid verify of an all-scope token", allocs)
	}
}

func TestKeysetParsing(t *testing.T) {
	good := keysetJSON(publicKey(testSeed))
	k, err := ParseKeyset(good)
	if err != nil || k.Audience != testAudience || len(k.TokenKeys["k1"]) != 32 || len(k.RevocationKeys["r1"]) != 32 {
		t.Fatalf("%v %+v", err, k)
	}
	key := EncodeBase64URL(testKey)
	pub := EncodeBase64URL(publicKey(testSeed))
	for name, text := range map[string]string{
		"not json":          "{",
		"array":             "[]",
		"null":              "null",
		"wrong format":      `{"format":"sigil-keyset-v2","audience":"a","token_keys":[],"revocation_keys":[]}`,
		"format case":       `{"Format":"sigil-keyset-v1","audience":"a","token_keys":[],"revocation_keys":[]}`,
		"bad audience":      `{"format":"sigil-keyset-v1","audience":"a b","token_keys":[],"revocation_keys":[]}`,
		"null keys":         `{"format":"sigil-keyset-v1","audience":"a","token_keys":null,"revocation_keys":[]}`,
		"missing keys":      `{"format":"sigil-keyset-v1","audience":"a","token_keys":[]}`,
		"null entry":        `{"format":"sigil-keyset-v1","audience":"a","token_keys":[null],"revocation_keys":[]}`,
		"padded key":        `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":"k1","key":"` + key + `="}],"revocation_keys":[]}`,
		"short key":         `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":"k1","key":"AAAA"}],"revocation_keys":[]}`,
		"duplicate":         `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":"k1","key":"` + key + `"},{"kid":"k1","key":"` + key + `"}],"revocation_keys":[]}`,
		"duplicate public":  `{"format":"sigil-keyset-v1","audience":"a","token_keys":[],"revocation_keys":[{"kid":"r","public_key":"` + pub + `"},{"kid":"r","public_key":"` + pub + `"}]}`,
		"bad kid":           `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":"k 1","key":"` + key + `"}],"revocation_keys":[]}`,
		"numeric kid":       `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":1,"key":"` + key + `"}],"revocation_keys":[]}`,
		"key field case":    `{"format":"sigil-keyset-v1","audience":"a","token_keys":[{"kid":"k1","Key":"` + key + `"}],"revocation_keys":[]}`,
		"larger than 1 MiB": `{"format":"sigil-keyset-v1","x":"` + strings.Repeat("a", KeysetMaxBytes) + `"}`,
	} {
		if _, err := ParseKeyset([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error shows a key", name)
		}
	}
	unknown := `{"format":"sigil-keyset-v1","audience":"a","token_keys":[],"revocation_keys":[],"extra":{"x":1}}`
	if _, err := ParseKeyset([]byte(unknown)); err != nil {
		t.Errorf("unknown members must be ignored: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keyset.json")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := ReadKeyset(path); err != nil || k.NewVerifier(nil).Audience() != testAudience {
		t.Errorf("ReadKeyset: %v", err)
	}
}

func TestStoreRollbackEquivocationAndPolicies(t *testing.T) {
	var outcomes []Outcome
	store := newStore(FailClosed, OnOutcome(func(o Outcome) { outcomes = append(outcomes, o) }))
	g := randomGUID()
	now := time.Now().Unix()
	if store.Status(g, now) != StatusStale {
		t.Error("fail closed before the first list")
	}
	if newStore(FailOpen).Status(g, now) != NotRevoked {
		t.Error("fail open before the first list")
	}
	first := makeList([]entry{{g, 2}}, 5, 0, testSeed)
	if _, err := store.Load(first); err != nil {
		t.Fatal(err)
	}
	inForce := store.Current()
	for name, c := range map[string]struct {
		data []byte
		want Reason
	}{
		"rollback":      {makeList(nil, 4, 0, testSeed), Rollback},
		"equivocation":  {makeList([]entry{{g, 1}}, 5, 0, testSeed), Equivocation},
		"other key":     {makeList(nil, 9, 0, seq(0x22, 32)), BadSignature},
		"damaged":       {damageSignature(makeList(nil, 10, 0, testSeed)), BadSignature},
		"unsupported":   {[]byte("SGLR\x02\x02r1"), UnsupportedVersion},
		"malformed":     {[]byte("SGL"), Malformed},
		"trailing byte": {append(makeList(nil, 11, 0, testSeed), 0), Malformed},
	} {
		if _, err := store.Load(c.data); ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
		if store.Current() != inForce || store.Status(g, now) != StatusRevoked {
			t.Errorf("%s: a refused list changed the list in force", name)
		}
	}
	if o := store.Offer(first); o.Kind != Unchanged || o.Sequence != 5 {
		t.Errorf("the same bytes again: %+v", o)
	}
	if o := store.Offer(makeList(nil, 6, 0, testSeed)); o.Kind != Installed || store.Status(g, now) != NotRevoked {
		t.Errorf("a newer list: %+v", o)
	}
	if len(outcomes) != 10 || outcomes[0].Kind != Installed || outcomes[1].Kind != Refused {
		t.Errorf("OnOutcome saw %d outcomes", len(outcomes))
	}

	// Staleness: reported, served by default, refused with StaleFailsClosed.
	stale := makeList([]entry{{g, 1}}, 1, now-1, testSeed)
	keep := newStore(FailClosed)
	closed := newStore(FailOpen, StaleFailsClosed())
	for _, s := range []*RevocationStore{keep, closed} {
		if _, err := s.Load(stale); err != nil {
			t.Fatal(err)
		}
		if !s.IsStale(time.Now()) || s.IsStale(time.Unix(now-2, 0)) {
			t.Error("IsStale")
		}
	}
	if keep.Status(g, now) != StatusDeactivated || keep.Status(randomGUID(), now) != NotRevoked {
		t.Error("the default policy keeps serving a stale list")
	}
	if closed.Status(randomGUID(), now) != StatusStale || closed.Status(randomGUID(), now-2) != NotRevoked {
		t.Error("StaleFailsClosed refuses every token once stale")
	}
	v := newVerifier(t, closed)
	token, _ := makeToken(Scope{Kind: ScopeAll})
	if _, err := v.Check(token, Permission{}); ReasonOf(err) != RevocationsStale {
		t.Errorf("stale and fail closed: %v", err)
	}

	small := newStore(FailOpen, MaxListBytes(200))
	if _, err := small.Load(makeList([]entry{{g, 1}, {randomGUID(), 2}, {randomGUID(), 2}, {randomGUID(), 2}, {randomGUID(), 2}, {randomGUID(), 2}, {randomGUID(), 2}}, 1, 0, testSeed)); ReasonOf(err) != TooLarge {
		t.Errorf("too large: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a store without a no-list policy was built")
		}
	}()
	NewRevocationStore(testKeys(), 0)
}

func TestLoadFileRefusesSymlinksAndOddFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "revocations.sgl")
	if err := os.WriteFile(path, makeList(nil, 1, 0, testSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	store := newStore(FailClosed)
	link := filepath.Join(dir, "link.sgl")
	if err := os.Symlink(path, link); err == nil {
		if _, err := store.LoadFile(link); ReasonOf(err) != IO {
			t.Errorf("a symbolic link was followed: %v", err)
		}
	}
	if _, err := store.LoadFile(filepath.Join(dir, "absent")); ReasonOf(err) != IO || strings.Contains(err.Error(), dir) {
		t.Errorf("absent: %v", err)
	}
	if _, err := store.LoadFile(dir); ReasonOf(err) != IO {
		t.Errorf("a directory: %v", err)
	}
	if _, err := store.LoadFile(path); err != nil {
		t.Errorf("the file itself: %v", err)
	}
}

func TestStoreAppliesDeltasFromBytesAndFiles(t *testing.T) {
	var mu sync.Mutex
	var outcomes []Outcome
	store := newStore(FailClosed, IndexLimit(0), OnOutcome(func(o Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }))
	var entries []entry
	for i := 0; i < 200; i++ {
		entries = append(entries, entry{randomGUID(), byte(1 + i%2)})
	}
	first := makeList(entries, 1, 0, testSeed)
	if _, err := store.Load(first); err != nil {
		t.Fatal(err)
	}
	added := randomGUID()
	changed := append([]entry{{added, 2}, {entries[0].guid, 2}}, entries[2:]...) // entries[1] leaves
	second := makeList(changed, 2, 0, testSeed)
	path := filepath.Join(t.TempDir(), "delta.sgld")
	if err := os.WriteFile(path, makeDelta(first, second), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := store.LoadFile(path)
	if err != nil || !bytes.Equal(l.Bytes(), second) || l.Sequence != 2 {
		t.Fatalf("the delta from a file: %v", err)
	}
	if store.Status(added, 0) != StatusRevoked || store.Status(entries[0].guid, 0) != StatusRevoked || store.Status(entries[1].guid, 0) != NotRevoked {
		t.Error("the rebuilt list answers wrongly")
	}
	if o := outcomes[len(outcomes)-1]; o.Kind != Installed || !o.Delta || o.Sequence != 2 {
		t.Errorf("outcome %+v", o)
	}
	if _, err := store.LoadFile(path); ReasonOf(err) != DeltaBaseMismatch || store.Current() != l {
		t.Errorf("the same delta again: %v", err)
	}

	// Racing offers of one delta: the base is checked under the install lock, so exactly one
	// applies and the others find list 3 in force.
	third := makeList(changed[1:], 3, 0, testSeed)
	delta := makeDelta(second, third)
	results := make(chan Outcome, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results <- store.Offer(delta) }()
	}
	wg.Wait()
	close(results)
	installed := 0
	for o := range results {
		switch {
		case o.Kind == Installed:
			installed++
		case o.Err == nil || o.Err.Reason != DeltaBaseMismatch:
			t.Errorf("a racing offer: %+v", o)
		}
	}
	if installed != 1 || !bytes.Equal(store.Current().Bytes(), third) {
		t.Errorf("%d racing offers installed", installed)
	}
}

// Verifiers read while lists are swapped: each sees the old list or the new one (run the
// suite with -race to have the detector check it).
func TestVerifyWhileReloading(t *testing.T) {
	store := newStore(FailClosed)
	token, g := makeToken(Scope{Kind: ScopeAll})
	lists := [][]byte{}
	for i := 1; i <= 50; i++ {
		status := byte(1 + i%2)
		lists = append(lists, makeList([]entry{{g, status}, {randomGUID(), 2}}, uint64(i), 0, testSeed))
	}
	if _, err := store.Load(lists[0]); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, store)
	var wrong atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := ReasonOf(func() error { _, err := v.Check(token, Permission{}); return err }()); r != Revoked && r != Deactivated {
					wrong.Add(1)
				}
			}
		}()
	}
	for _, l := range lists[1:] {
		if o := store.Offer(l); o.Kind != Installed {
			t.Errorf("%+v", o)
		}
	}
	close(stop)
	wg.Wait()
	if wrong.Load() != 0 || store.Current().Sequence != 50 {
		t.Errorf("%d answers were neither revoked nor deactivated", wrong.Load())
	}
}

func TestGUIDText(t *testing.T) {
	g, err := ParseGUID("0B0E5C6A2F4D4C1E9A535D3F1E2B7C90")
	if err != nil || g.String() != "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90" {
		t.Errorf("%v %v", g, err)
	}
	for _, bad := range []string{"", "0b0e5c6a_2f4d-4c1e-9a53-5d3f1e2b7c90", "xyz", strings.Repeat("g", 32)} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
