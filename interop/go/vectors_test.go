package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type tokenVector struct {
	Name         string  `json:"name"`
	MasterSecret *string `json:"master_secret_hex"`
	Keys         []struct {
		Kid    string `json:"kid"`
		KeyHex string `json:"key_hex"`
	} `json:"keys"`
	Audience   string `json:"audience"`
	Now        int64  `json:"now"`
	Leeway     int    `json:"leeway"`
	Permission *struct {
		Name   string `json:"name"`
		Access string `json:"access"`
	} `json:"permission"`
	Revoked []struct {
		GUID   string `json:"guid"`
		Status string `json:"status"`
	} `json:"revoked"`
	Token    string `json:"token"`
	Expected struct {
		Valid  bool    `json:"valid"`
		Reason *string `json:"reason"`
		Claims *struct {
			Kid       string          `json:"kid"`
			Audience  string          `json:"audience"`
			GUID      string          `json:"guid"`
			ValidFrom int64           `json:"valid_from"`
			ValidTo   *int64          `json:"valid_to"`
			Scope     json.RawMessage `json:"scope"`
		} `json:"claims"`
	} `json:"expected"`
}

func loadTokenVectors(t *testing.T) []tokenVector {
	var file struct {
		Format  string        `json:"format"`
		Vectors []tokenVector `json:"vectors"`
	}
	if !readJSON(t, repoPath("Tests", "Vectors", "tokens-v1.json"), &file) {
		t.Skip("Tests/Vectors/tokens-v1.json is missing")
	}
	if file.Format != "sigil-token-vectors-v1" || len(file.Vectors) == 0 {
		t.Fatalf("unexpected vector file: %q with %d vectors", file.Format, len(file.Vectors))
	}
	return file.Vectors
}

func scopeJSON(s Scope) string {
	var v any = s.String()
	if s.Kind == ScopeCustom {
		v = s.Names()
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestTokenVectors(t *testing.T) {
	for _, v := range loadTokenVectors(t) {
		v := v
		t.Run(v.Name, func(t *testing.T) {
			keys := map[string][]byte{}
			for _, k := range v.Keys {
				keys[k.Kid] = unhex(t, k.KeyHex)
				if v.MasterSecret != nil {
					derived, err := AudienceKey(unhex(t, *v.MasterSecret), v.Audience)
					if err != nil || !bytes.Equal(derived, keys[k.Kid]) {
						t.Errorf("HKDF does not reproduce the key of %s (%v)", k.Kid, err)
					}
				}
			}
			revoked := StaticRevocations{}
			for _, r := range v.Revoked {
				g, err := ParseGUID(r.GUID)
				if err != nil {
					t.Fatal(err)
				}
				revoked[g] = map[string]RevocationStatus{"revoked": StatusRevoked, "deactivated": StatusDeactivated}[r.Status]
			}
			verifier, err := NewVerifier(v.Audience, keys, v.Leeway, revoked)
			if err != nil {
				t.Fatal(err)
			}
			var p Permission
			if v.Permission != nil {
				access := map[string]Access{"read": Read, "write": Write}[v.Permission.Access]
				if p, err = NewPermission(v.Permission.Name, access); err != nil {
					t.Fatal(err)
				}
			}
			claims, err := verifier.Verify(v.Token, p, v.Now)
			reason := ""
			if v.Expected.Reason != nil {
				reason = *v.Expected.Reason
			}
			if got := string(ReasonOf(err)); got != reason || (err == nil) != v.Expected.Valid {
				t.Fatalf("got reason %q (err %v), want %q", got, err, reason)
			}
			if err != nil && v.Token != "" && strings.Contains(err.Error(), v.Token) {
				t.Error("the error echoes the token")
			}
			want := v.Expected.Claims
			if want == nil {
				if err != nil && !reflect.DeepEqual(claims, Claims{}) && isUnauthentic(ReasonOf(err)) {
					t.Error("claims were handed out before the MAC matched")
				}
				return
			}
			validTo := int64(0)
			if want.ValidTo != nil {
				validTo = *want.ValidTo
			}
			var wantScope any
			_ = json.Unmarshal(want.Scope, &wantScope)
			var gotScope any
			_ = json.Unmarshal([]byte(scopeJSON(claims.Scope)), &gotScope)
			if claims.KeyID != want.Kid || claims.Audience != want.Audience || claims.GUID.String() != want.GUID ||
				claims.ValidFrom != want.ValidFrom || claims.ValidTo != validTo || !reflect.DeepEqual(gotScope, wantScope) {
				t.Errorf("claims %+v (scope %s), want %+v (scope %s)", claims, scopeJSON(claims.Scope), *want, want.Scope)
			}
		})
	}
}

func isUnauthentic(r Reason) bool {
	return r == Malformed || r == WrongAudience || r == UnknownKey || r == BadSignature
}

func TestRevocationVectors(t *testing.T) {
	var file struct {
		Format  string `json:"format"`
		Vectors []struct {
			Name       string `json:"name"`
			PublicKeys []struct {
				Kid string `json:"kid"`
				Hex string `json:"public_key_hex"`
			} `json:"public_keys"`
			ListHex  string `json:"list_hex"`
			MaxBytes int    `json:"max_bytes"`
			Expected struct {
				Valid      bool    `json:"valid"`
				Reason     *string `json:"reason"`
				Kid        string  `json:"kid"`
				Sequence   uint64  `json:"sequence"`
				IssuedAt   int64   `json:"issued_at"`
				NextUpdate *int64  `json:"next_update"`
				Entries    []struct {
					GUID   string `json:"guid"`
					Status string `json:"status"`
				} `json:"entries"`
			} `json:"expected"`
		} `json:"vectors"`
	}
	if !readJSON(t, repoPath("Tests", "Vectors", "revocations-v1.json"), &file) {
		t.Skip("Tests/Vectors/revocations-v1.json is missing")
	}
	if file.Format != "sigil-revocation-vectors-v1" || len(file.Vectors) == 0 {
		t.Fatal("unexpected revocation vector file")
	}
	for _, v := range file.Vectors {
		v := v
		t.Run(v.Name, func(t *testing.T) {
			keys := map[string]ed25519.PublicKey{}
			for _, k := range v.PublicKeys {
				keys[k.Kid] = unhex(t, k.Hex)
			}
			// A fresh store: no list in force, so no rollback or equivocation.
			store := NewRevocationStore(keys, FailClosed, MaxListBytes(v.MaxBytes))
			l, err := store.Load(unhex(t, v.ListHex))
			want := ""
			if v.Expected.Reason != nil {
				want = *v.Expected.Reason
			}
			if got := string(ReasonOf(err)); got != want || (err == nil) != v.Expected.Valid {
				t.Fatalf("got %q (%v), want %q", got, err, want)
			}
			if err != nil {
				if store.Current() != nil {
					t.Error("a refused list was installed")
				}
				return
			}
			next := int64(0)
			if v.Expected.NextUpdate != nil {
				next = *v.Expected.NextUpdate
			}
			if l.KeyID != v.Expected.Kid || l.Sequence != v.Expected.Sequence || l.IssuedAt != v.Expected.IssuedAt || l.NextUpdate != next {
				t.Errorf("header %s/%d/%d/%d", l.KeyID, l.Sequence, l.IssuedAt, l.NextUpdate)
			}
			entries := l.Entries()
			if len(entries) != len(v.Expected.Entries) {
				t.Fatalf("%d entries, want %d", len(entries), len(v.Expected.Entries))
			}
			for i, e := range v.Expected.Entries {
				status := map[string]RevocationStatus{"revoked": StatusRevoked, "deactivated": StatusDeactivated}[e.Status]
				if entries[i].GUID.String() != e.GUID || entries[i].Status != status {
					t.Errorf("entry %d: %v %v, want %s %s", i, entries[i].GUID, entries[i].Status, e.GUID, e.Status)
				}
				if l.Status(entries[i].GUID) != status {
					t.Errorf("entry %d: lookup disagrees", i)
				}
			}
			// The same list searched in its bytes (no map) answers alike.
			bare, err := parseRevocationList(unhex(t, v.ListHex), keys, v.MaxBytes, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if bare.Status(e.GUID) != e.Status {
					t.Errorf("binary search disagrees for %v", e.GUID)
				}
			}
			if bare.Status(GUID{0xff, 0xff}) != NotRevoked {
				t.Error("an unlisted GUID is listed")
			}
		})
	}
}

// deltaReasons are the reasons FORMAT.md §4.3 names; revocation-deltas-v1.json covers each.
var deltaReasons = []string{"too_large", "malformed", "unsupported_version", "delta_base_mismatch", "unknown_key", "bad_signature", "rollback", "equivocation"}

func TestRevocationDeltaVectors(t *testing.T) {
	var file struct {
		Format  string `json:"format"`
		Vectors []struct {
			Name       string `json:"name"`
			PublicKeys []struct {
				Kid string `json:"kid"`
				Hex string `json:"public_key_hex"`
			} `json:"public_keys"`
			BaseHex  *string `json:"base_hex"`
			DeltaHex string  `json:"delta_hex"`
			MaxBytes int     `json:"max_bytes"`
			Expected struct {
				Valid   bool    `json:"valid"`
				Reason  *string `json:"reason"`
				ListHex *string `json:"list_hex"`
			} `json:"expected"`
		} `json:"vectors"`
	}
	if !readJSON(t, repoPath("Tests", "Vectors", "revocation-deltas-v1.json"), &file) {
		t.Skip("Tests/Vectors/revocation-deltas-v1.json is missing")
	}
	if file.Format != "sigil-revocation-delta-vectors-v1" || len(file.Vectors) == 0 {
		t.Fatal("unexpected revocation delta vector file")
	}
	inFile, passed := map[string]bool{}, map[string]bool{}
	for _, v := range file.Vectors {
		v := v
		want := ""
		if v.Expected.Reason != nil {
			want = *v.Expected.Reason
			inFile[want] = true
		}
		t.Run(v.Name, func(t *testing.T) {
			keys := map[string]ed25519.PublicKey{}
			for _, k := range v.PublicKeys {
				keys[k.Kid] = unhex(t, k.Hex)
			}
			// The base goes in force under the default limit; the delta meets the vector's.
			store := NewRevocationStore(keys, FailClosed)
			var base *RevocationList
			if v.BaseHex != nil {
				var err error
				if base, err = store.Load(unhex(t, *v.BaseHex)); err != nil {
					t.Fatalf("the base list does not load: %v", err)
				}
			}
			store.maxBytes = v.MaxBytes
			delta := unhex(t, v.DeltaHex)
			o := store.Offer(delta)
			got := ""
			if o.Err != nil {
				got = string(o.Err.Reason)
			}
			if got != want || (o.Err == nil) != v.Expected.Valid || o.Delta != IsRevocationDelta(delta) {
				t.Fatalf("got %q (%+v), want %q", got, o, want)
			}
			// The public functions agree up to the store's own checks (rollback, equivocation).
			if want != "rollback" && want != "equivocation" {
				d, err := ParseRevocationDelta(delta, v.MaxBytes)
				if err == nil {
					_, err = d.Apply(base, keys, v.MaxBytes)
				}
				if string(ReasonOf(err)) != want {
					t.Errorf("ParseRevocationDelta + Apply: %v, want %q", err, want)
				}
			}
			if !v.Expected.Valid {
				if store.Current() != base {
					t.Error("a refused delta changed the list in force")
				}
				passed[want] = true
				return
			}
			if v.Expected.ListHex == nil || !bytes.Equal(store.Current().Bytes(), unhex(t, *v.Expected.ListHex)) {
				t.Error("the resulting list's bytes differ from expected.list_hex")
			}
			// The rebuilt list is the issuer's list: loading it whole gives the same bytes.
			whole, err := ParseRevocationList(unhex(t, *v.Expected.ListHex), keys, 0)
			if err != nil || !reflect.DeepEqual(whole.Entries(), store.Current().Entries()) || whole.Sequence != o.Sequence {
				t.Errorf("the expected list does not load alike: %v", err)
			}
		})
	}
	wantSet := map[string]bool{}
	for _, r := range deltaReasons {
		wantSet[r] = true
	}
	if !reflect.DeepEqual(inFile, wantSet) {
		t.Errorf("the vectors cover %v, FORMAT.md §4.3 names %v", inFile, deltaReasons)
	}
	if !t.Failed() && !reflect.DeepEqual(passed, inFile) {
		t.Errorf("reasons passed %v, in the file %v", passed, inFile)
	}
}

func TestRFC4231HMAC(t *testing.T) {
	var file struct {
		Tests []struct {
			ID         int    `json:"id"`
			Key        string `json:"key"`
			Data       string `json:"data"`
			MAC        string `json:"mac"`
			Truncation *int   `json:"truncation_bits"`
		} `json:"tests"`
	}
	if !readJSON(t, sharedVector("rfc4231_hmac_sha256.json"), &file) {
		t.Skip("testdata is missing")
	}
	for _, c := range file.Tests {
		sum := newMACKey(unhex(t, c.Key)).sum(unhex(t, c.Data))
		want := unhex(t, c.MAC)
		if !bytes.Equal(sum[:len(want)], want) {
			t.Errorf("RFC 4231 case %d: %x", c.ID, sum)
		}
		if c.Truncation == nil && !newMACKey(unhex(t, c.Key)).equal(unhex(t, c.Data), want) {
			t.Errorf("RFC 4231 case %d: equal refuses the right tag", c.ID)
		}
	}
	if len(file.Tests) != 7 {
		t.Errorf("%d RFC 4231 cases, want 7", len(file.Tests))
	}
}

func TestWycheproofHMAC(t *testing.T) {
	var file struct {
		Groups []struct {
			TagSize int `json:"tagSize"`
			Tests   []struct {
				ID     int    `json:"tcId"`
				Key    string `json:"key"`
				Msg    string `json:"msg"`
				Tag    string `json:"tag"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if !readJSON(t, sharedVector("wycheproof_hmac_sha256_test.json"), &file) {
		t.Skip("testdata is missing")
	}
	n := 0
	for _, g := range file.Groups {
		for _, c := range g.Tests {
			n++
			sum := newMACKey(unhex(t, c.Key)).sum(unhex(t, c.Msg))
			tag := unhex(t, c.Tag)
			ok := len(tag) == g.TagSize/8 && bytes.Equal(sum[:g.TagSize/8], tag)
			if ok != (c.Result == "valid") {
				t.Errorf("Wycheproof HMAC %d: got %v, want %s", c.ID, ok, c.Result)
			}
		}
	}
	if n != 174 {
		t.Errorf("%d Wycheproof HMAC tests, want 174", n)
	}
}

func TestRFC5869HKDF(t *testing.T) {
	var file struct {
		Tests []struct {
			ID   int    `json:"id"`
			IKM  string `json:"ikm"`
			Salt string `json:"salt"`
			Info string `json:"info"`
			L    int    `json:"L"`
			OKM  string `json:"okm"`
		} `json:"tests"`
	}
	if !readJSON(t, sharedVector("rfc5869_hkdf_sha256.json"), &file) {
		t.Skip("testdata is missing")
	}
	for _, c := range file.Tests {
		okm, err := HKDFSHA256(unhex(t, c.IKM), unhex(t, c.Salt), unhex(t, c.Info), c.L)
		if err != nil || hex.EncodeToString(okm) != c.OKM {
			t.Errorf("RFC 5869 case %d: %x (%v)", c.ID, okm, err)
		}
	}
	if len(file.Tests) != 3 {
		t.Errorf("%d RFC 5869 cases, want 3", len(file.Tests))
	}
	if _, err := HKDFSHA256(nil, nil, nil, 8161); err == nil {
		t.Error("HKDF accepted an output longer than 255 blocks")
	}
}

// The revocation list's signature goes through crypto/ed25519: these check that it is
// strict where the list's security needs it (RFC 8032 values, Wycheproof's edge cases).
func TestRFC8032Ed25519(t *testing.T) {
	var file struct {
		Tests []struct {
			Name      string `json:"name"`
			Secret    string `json:"secret_key"`
			Public    string `json:"public_key"`
			Message   string `json:"message"`
			Signature string `json:"signature"`
		} `json:"tests"`
	}
	if !readJSON(t, sharedVector("rfc8032_ed25519.json"), &file) {
		t.Skip("testdata is missing")
	}
	for _, c := range file.Tests {
		priv := ed25519.NewKeyFromSeed(unhex(t, c.Secret))
		if hex.EncodeToString(priv.Public().(ed25519.PublicKey)) != c.Public {
			t.Errorf("%s: public key", c.Name)
		}
		if hex.EncodeToString(ed25519.Sign(priv, unhex(t, c.Message))) != c.Signature {
			t.Errorf("%s: signature", c.Name)
		}
		if !ed25519.Verify(unhex(t, c.Public), unhex(t, c.Message), unhex(t, c.Signature)) {
			t.Errorf("%s: verify", c.Name)
		}
	}
}

func TestWycheproofEd25519(t *testing.T) {
	var file struct {
		Groups []struct {
			PublicKey struct {
				PK string `json:"pk"`
			} `json:"publicKey"`
			Tests []struct {
				ID     int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if !readJSON(t, sharedVector("wycheproof_ed25519_test.json"), &file) {
		t.Skip("testdata is missing")
	}
	n := 0
	for _, g := range file.Groups {
		pk := unhex(t, g.PublicKey.PK)
		for _, c := range g.Tests {
			n++
			sig := unhex(t, c.Sig)
			ok := len(pk) == ed25519.PublicKeySize && ed25519.Verify(pk, unhex(t, c.Msg), sig)
			if ok != (c.Result == "valid") {
				t.Errorf("Wycheproof Ed25519 %d: got %v, want %s", c.ID, ok, c.Result)
			}
		}
	}
	if n != 150 {
		t.Errorf("%d Wycheproof Ed25519 tests, want 150", n)
	}
}

func TestRFC4648Base64URL(t *testing.T) {
	var file struct {
		Tests []struct {
			Input string `json:"input_ascii"`
			NoPad string `json:"base64url_nopad"`
		} `json:"tests"`
		Derived []struct {
			Input string `json:"input_hex"`
			NoPad string `json:"base64url_nopad"`
		} `json:"derived_url_alphabet"`
	}
	if !readJSON(t, sharedVector("rfc4648_base_encodings.json"), &file) {
		t.Skip("testdata is missing")
	}
	check := func(input []byte, text string) {
		if got := EncodeBase64URL(input); got != text {
			t.Errorf("encode %x: %q, want %q", input, got, text)
		}
		if got, ok := DecodeBase64URL(text); !ok || !bytes.Equal(got, input) {
			t.Errorf("decode %q: %x %v", text, got, ok)
		}
	}
	for _, c := range file.Tests {
		check([]byte(c.Input), c.NoPad)
	}
	for _, c := range file.Derived {
		check(unhex(t, c.Input), c.NoPad)
	}
	for _, bad := range []string{"Zg==", "Zh", "Zm9", "Z", "Zm+v", "Zm/v", "Zm9v\n", "Zm 9"} {
		if _, ok := DecodeBase64URL(bad); ok {
			t.Errorf("decoded the non-canonical %q", bad)
		}
	}
}

// FORMAT.md §6, the worked example.
func TestWorkedExample(t *testing.T) {
	master := seq(0, 32)
	key, _ := AudienceKey(master, "billing")
	if hex.EncodeToString(key) != "7f05810a26078ef370c3e277a38ca4a8a97c12b6e7797b12fb8f18b63969a940" {
		t.Fatalf("K_aud %x", key)
	}
	token := "sgl_AQJrMQdiaWxsaW5nCw5cai9NTB6aU10_Hit8kAAAAABpVbkAAAAAAGs27IADAAIMZGV2aWNlcy5saXN0DWludm9pY2VzLnJlYWRc1D-I36F1cesPo-N1ml0TucoPmNsDetaclNGR789aGg"
	g, _ := ParseGUID("0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90")
	c := Claims{KeyID: "k1", Audience: "billing", GUID: g, ValidFrom: 1767225600, ValidTo: 1798761600, Scope: CustomScope("devices.list", "invoices.read")}
	if Mint(c, key) != token {
		t.Fatal("Mint does not reproduce the worked example's token")
	}
	v, _ := NewVerifier("billing", map[string][]byte{"k1": key}, DefaultLeeway, nil)
	for _, tc := range []struct {
		p    Permission
		now  int64
		want Reason
	}{
		{Permission{}, 1780000000, ""},
		{ReadPermission("devices.list"), 1780000000, ""},
		{WritePermission("devices.list"), 1780000000, ""},
		{ReadPermission("devices.delete"), 1780000000, ScopeNotGranted},
		{Permission{}, 1798761660, Expired},
	} {
		if _, err := v.CheckAt(token, tc.p, tc.now); ReasonOf(err) != tc.want {
			t.Errorf("%v at %d: %v, want %q", tc.p, tc.now, err, tc.want)
		}
	}
	other, _ := NewVerifier("invoices", map[string][]byte{"k1": key}, DefaultLeeway, nil)
	if _, err := other.CheckAt(token, Permission{}, 1780000000); ReasonOf(err) != WrongAudience {
		t.Errorf("invoices verifier: %v", err)
	}

	seed := seq(0x20, 32)
	if hex.EncodeToString(publicKey(seed)) != "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7" {
		t.Fatal("public key of the worked example")
	}
	header := unhex(t, "53474c52010272310000000000000007000000006955b900000000006955c71000000002")
	entries := unhex(t, "0b0e5c6a2f4d4c1e9a535d3f1e2b7c9002"+"7d4448409dc041b2a5d02f1c9e3b5a6101")
	body := append(header, entries...)
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), append([]byte(RevocationContext), body...))
	if hex.EncodeToString(sig) != "8f50650b5b9967638618356dda455d13dc4e6789c09a8fbb38adddbbc07ef373bb104a1b49d7bfd2e4932cff222fc3e73db955c41a5bd0191db75fb8dc06fb0c" {
		t.Fatalf("signature %x", sig)
	}
	store := NewRevocationStore(map[string]ed25519.PublicKey{"r1": publicKey(seed)}, FailClosed)
	if _, err := store.Load(append(body, sig...)); err != nil {
		t.Fatal(err)
	}
	v, _ = NewVerifier("billing", map[string][]byte{"k1": key}, DefaultLeeway, store)
	if _, err := v.CheckAt(token, Permission{}, 1767225600); ReasonOf(err) != Revoked {
		t.Errorf("with the list in force: %v, want revoked", err)
	}
}
