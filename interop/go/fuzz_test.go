package verify

import (
	"strings"
	"testing"
)

// FuzzParse: untrusted text never panics, and a token that parses has exactly one text
// (its body re-encodes to the same bytes). `go test` runs the seeds; `go test -fuzz
// FuzzParse` searches further.
func FuzzParse(f *testing.F) {
	for _, scope := range []Scope{{Kind: ScopeAll}, {Kind: ScopeReadOnly}, CustomScope("a.b", "devices.list")} {
		token, _ := makeToken(scope)
		f.Add(token)
	}
	f.Add("sgl_")
	f.Add("sgl_AQJrMQdiaWxsaW5n")
	v := newVerifier(f, StaticRevocations{})
	f.Fuzz(func(t *testing.T, token string) {
		_, _ = v.CheckAt(token, ReadPermission("devices.list"), 1780000000)
		c, err := ParseUnverified(token)
		if err != nil {
			return
		}
		raw, ok := DecodeBase64URL(strings.TrimPrefix(token, TokenPrefix))
		if !ok || string(EncodeBody(c)) != string(raw[:len(raw)-TagLength]) {
			t.Fatalf("a parsed token does not re-encode to its own body")
		}
		if TokenPrefix+EncodeBase64URL(raw) != token {
			t.Fatalf("a parsed token has a second text")
		}
	})
}
