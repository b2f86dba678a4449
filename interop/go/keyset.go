package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
)

// KeysetFormat is the keyset export's format tag (FORMAT.md §5).
const (
	KeysetFormat   = "sigil-keyset-v1"
	KeysetMaxBytes = 1 << 20
)

// Keyset is a sigil-keyset-v1 export: what one service needs (`sigil keys export --audience AUD`).
type Keyset struct {
	Audience       string
	TokenKeys      map[string][]byte            // key ID → K_aud (32 bytes)
	RevocationKeys map[string]ed25519.PublicKey // key ID → Ed25519 public key
}

// ParseKeyset parses a sigil-keyset-v1 export: format, audience, token_keys and
// revocation_keys, each key canonical unpadded base64url of 32 bytes, key IDs unique.
// Member names are matched exactly (encoding/json's case-insensitive struct matching is
// not used) and unknown members are ignored. Errors name the field, never its value.
func ParseKeyset(data []byte) (Keyset, error) {
	if len(data) > KeysetMaxBytes {
		return Keyset{}, &KeysetError{"keyset is larger than 1 MiB"}
	}
	var wire map[string]json.RawMessage
	if !isJSON(data, '{') || json.Unmarshal(data, &wire) != nil {
		return Keyset{}, &KeysetError{"keyset is not a JSON object"}
	}
	if f, ok := jsonString(wire["format"]); !ok || f != KeysetFormat {
		return Keyset{}, &KeysetError{"keyset format is not " + KeysetFormat}
	}
	audience, ok := jsonString(wire["audience"])
	if !ok || !isAudience(audience) {
		return Keyset{}, &KeysetError{"audience is not [A-Za-z0-9._:-]{1,64}"}
	}
	tokenKeys, err := keysetEntries(wire, "token_keys", "key")
	if err != nil {
		return Keyset{}, err
	}
	revocationKeys, err := keysetEntries(wire, "revocation_keys", "public_key")
	if err != nil {
		return Keyset{}, err
	}
	k := Keyset{Audience: audience, TokenKeys: tokenKeys, RevocationKeys: map[string]ed25519.PublicKey{}}
	for kid, key := range revocationKeys {
		k.RevocationKeys[kid] = ed25519.PublicKey(key)
	}
	return k, nil
}

func keysetEntries(wire map[string]json.RawMessage, field, valueField string) (map[string][]byte, error) {
	var items []json.RawMessage
	if !isJSON(wire[field], '[') || json.Unmarshal(wire[field], &items) != nil {
		return nil, &KeysetError{field + " is not a list"}
	}
	out := map[string][]byte{}
	for _, item := range items {
		var entry map[string]json.RawMessage
		if !isJSON(item, '{') || json.Unmarshal(item, &entry) != nil {
			return nil, &KeysetError{field + " holds a non-object"}
		}
		kid, ok := jsonString(entry["kid"])
		if !ok || !isKeyID(kid) {
			return nil, &KeysetError{field + ": key id is not [A-Za-z0-9_-]{1,32}"}
		}
		value, ok := jsonString(entry[valueField])
		if !ok {
			return nil, &KeysetError{fmt.Sprintf("%s: %s has no %s", field, kid, valueField)}
		}
		decoded, ok := DecodeBase64URL(value)
		if !ok {
			return nil, &KeysetError{fmt.Sprintf("%s: %s is not canonical base64url", field, kid)}
		}
		if len(decoded) != 32 {
			return nil, &KeysetError{fmt.Sprintf("%s: %s must be 32 bytes", field, kid)}
		}
		if _, dup := out[kid]; dup {
			return nil, &KeysetError{fmt.Sprintf("%s: key id %s appears twice", field, kid)}
		}
		out[kid] = decoded
	}
	return out, nil
}

// isJSON reports whether raw's first non-space byte is open ('{', '[' or '"'): json.Unmarshal
// would otherwise turn a null into an empty value without an error.
func isJSON(raw []byte, open byte) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == open
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if !isJSON(raw, '"') || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ReadKeyset reads and parses a keyset file, reading at most 1 MiB + 1 bytes.
func ReadKeyset(path string) (Keyset, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return Keyset{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, KeysetMaxBytes+1))
	if err != nil {
		return Keyset{}, err
	}
	return ParseKeyset(data)
}

// NewVerifier returns a verifier for the keyset's audience and token keys with the default
// leeway. It panics only for a hand-built Keyset that NewVerifier would refuse: one from
// ParseKeyset or ReadKeyset is always accepted.
//
//	verifier := keyset.NewVerifier(store)
func (k Keyset) NewVerifier(revocations RevocationSource) *Verifier {
	v, err := NewVerifier(k.Audience, k.TokenKeys, DefaultLeeway, revocations)
	if err != nil {
		panic(err)
	}
	return v
}
