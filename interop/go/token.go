package verify

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
)

// Format constants (docs/FORMAT.md §1).
const (
	TokenPrefix     = "sgl_"
	MaxTokenText    = 4096
	TagLength       = 32
	MaxScopeEntries = 256
	DefaultLeeway   = 60
	MaxLeeway       = 86400
	tokenVersion    = 1
	// 4092 base64url characters decode to at most 3069 bytes.
	maxDecoded = (MaxTokenText - len(TokenPrefix)) * 3 / 4
)

// GUID is a token's 16-byte identity; its text form is lowercase hyphenated 8-4-4-4-12.
type GUID [16]byte

// String returns the lowercase hyphenated form.
func (g GUID) String() string {
	var out [36]byte
	hex.Encode(out[0:8], g[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], g[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], g[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], g[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], g[10:16])
	return string(out[:])
}

// ParseGUID reads the 36-character hyphenated form or 32 hex digits, in either case.
func ParseGUID(text string) (GUID, error) {
	var g GUID
	t := strings.TrimSpace(text)
	if len(t) == 36 {
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return g, errors.New("sigil: not a GUID")
		}
		t = t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	}
	if len(t) != 32 {
		return g, errors.New("sigil: not a GUID")
	}
	if _, err := hex.Decode(g[:], []byte(t)); err != nil {
		return GUID{}, errors.New("sigil: not a GUID")
	}
	return g, nil
}

// ScopeKind is the token's scope kind byte.
type ScopeKind uint8

// Scope kinds (FORMAT.md §1.2).
const (
	ScopeAll      ScopeKind = 1
	ScopeReadOnly ScopeKind = 2
	ScopeCustom   ScopeKind = 3
)

// Scope is what a token grants: everything, every read, or a list of resource.action names.
type Scope struct {
	Kind ScopeKind
	// The custom entries as on the wire (u8 length + name, repeated), already checked to be
	// canonical: one string instead of one per name keeps a verify to one allocation.
	entries string
}

// CustomScope returns a custom scope of the given names, which must be valid resource.action
// names in strictly ascending bytewise order (Mint does not check; Verifier never builds one).
func CustomScope(names ...string) Scope {
	var b strings.Builder
	for _, n := range names {
		b.WriteByte(byte(len(n)))
		b.WriteString(n)
	}
	return Scope{Kind: ScopeCustom, entries: b.String()}
}

// Names returns the custom scope's resource.action names in token order (nil for the other kinds).
func (s Scope) Names() []string {
	var out []string
	for e := s.entries; len(e) > 0; {
		n := int(e[0])
		out = append(out, e[1:1+n])
		e = e[1+n:]
	}
	return out
}

// String returns "all", "read-only" or the custom names joined with ",".
func (s Scope) String() string {
	switch s.Kind {
	case ScopeAll:
		return "all"
	case ScopeReadOnly:
		return "read-only"
	}
	return strings.Join(s.Names(), ",")
}

// Grants applies the scope rule of FORMAT.md §3: all grants everything, read-only every
// read, custom exactly its listed names whatever the access. The zero Permission (none asked
// for) is always granted.
func (s Scope) Grants(p Permission) bool {
	if p.name == "" {
		return true
	}
	switch s.Kind {
	case ScopeAll:
		return true
	case ScopeReadOnly:
		return p.access == Read
	case ScopeCustom:
		for e := s.entries; len(e) > 0; {
			n := int(e[0])
			if e[1:1+n] == p.name {
				return true
			}
			e = e[1+n:]
		}
	}
	return false
}

// Access is the mode a request needs: Read or Write.
type Access uint8

// Access modes.
const (
	Read  Access = 1
	Write Access = 2
)

func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return "invalid"
}

// Permission is what a request needs: a resource.action name and an access mode. The zero
// value asks for nothing (only the token itself is checked). Build one with NewPermission,
// or with ReadPermission / WritePermission for names fixed in the program.
type Permission struct {
	name   string
	access Access
}

// NewPermission checks name (resource.action, each part [a-z][a-z0-9_-]{0,31}) and access.
// A bad permission is the service's programming error, not a token outcome (FORMAT.md §3).
func NewPermission(name string, access Access) (Permission, error) {
	if !isPair(name) {
		return Permission{}, errors.New("sigil: a permission is resource.action, each part [a-z][a-z0-9_-]{0,31}")
	}
	if access != Read && access != Write {
		return Permission{}, errors.New("sigil: access is Read or Write")
	}
	return Permission{name, access}, nil
}

// ReadPermission is NewPermission(name, Read) for a name fixed in the program: it panics if
// the name is not resource.action, like regexp.MustCompile.
func ReadPermission(name string) Permission { return mustPermission(name, Read) }

// WritePermission is NewPermission(name, Write); it panics on a bad name.
func WritePermission(name string) Permission { return mustPermission(name, Write) }

func mustPermission(name string, access Access) Permission {
	p, err := NewPermission(name, access)
	if err != nil {
		panic(err)
	}
	return p
}

// Name is the resource.action name ("" for the zero Permission).
func (p Permission) Name() string { return p.name }

// Access is the access mode (0 for the zero Permission).
func (p Permission) Access() Access { return p.access }

// Claims is what an authentic token says.
type Claims struct {
	KeyID     string
	Audience  string
	GUID      GUID
	ValidFrom int64 // first valid second, inclusive
	ValidTo   int64 // first second no longer valid, exclusive; 0: never expires
	Scope     Scope
}

// Expires reports whether the token has an end (ValidTo is not 0).
func (c Claims) Expires() bool { return c.ValidTo != 0 }

// Field rules (FORMAT.md §1.2), as byte tables so checks need no regular expression.
var (
	kidByte      [256]bool
	audienceByte [256]bool
	b64Value     [256]byte // 0xff: not in the base64url alphabet
)

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func init() {
	for i := range b64Value {
		b64Value[i] = 0xff
	}
	for i := 0; i < len(b64Alphabet); i++ {
		b64Value[b64Alphabet[i]] = byte(i)
		kidByte[b64Alphabet[i]] = true
		audienceByte[b64Alphabet[i]] = true
	}
	audienceByte['.'] = true
	audienceByte[':'] = true
}

func isKeyID[T string | []byte](b T) bool {
	if len(b) < 1 || len(b) > 32 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !kidByte[b[i]] {
			return false
		}
	}
	return true
}

func isAudience[T string | []byte](b T) bool {
	if len(b) < 1 || len(b) > 64 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !audienceByte[b[i]] {
			return false
		}
	}
	return true
}

// isPart: [a-z][a-z0-9_-]{0,31}.
func isPart[T string | []byte](b T) bool {
	if len(b) < 1 || len(b) > 32 || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	for i := 1; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func isPair[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if b[i] == '.' {
			return isPart(b[:i]) && isPart(b[i+1:])
		}
	}
	return false
}

// IsValidKeyID reports whether kid is 1-32 bytes of [A-Za-z0-9_-].
func IsValidKeyID(kid string) bool { return isKeyID(kid) }

// IsValidAudience reports whether audience is 1-64 bytes of [A-Za-z0-9._:-].
func IsValidAudience(audience string) bool { return isAudience(audience) }

// IsValidPermissionName reports whether name is resource.action, each part [a-z][a-z0-9_-]{0,31}.
func IsValidPermissionName(name string) bool { return isPair(name) }

// decodeBase64URL decodes canonical unpadded base64url (FORMAT.md §2 rules 3-5) into dst,
// which must hold len(src)*3/4 bytes. It returns false for anything else: a length of 1 mod
// 4, a character outside the URL alphabet (padding included) or non-zero unused bits.
func decodeBase64URL[T string | []byte](dst []byte, src T) ([]byte, bool) {
	n := len(src)
	if n%4 == 1 {
		return nil, false
	}
	out := dst[:n*3/4]
	j := 0
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b, c, d := b64Value[src[i]], b64Value[src[i+1]], b64Value[src[i+2]], b64Value[src[i+3]]
		if (a|b|c|d)&0xc0 != 0 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		out[j], out[j+1], out[j+2] = byte(v>>16), byte(v>>8), byte(v)
		j += 3
	}
	switch n - i {
	case 2:
		a, b := b64Value[src[i]], b64Value[src[i+1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 {
			return nil, false
		}
		out[j] = a<<2 | b>>4
	case 3:
		a, b, c := b64Value[src[i]], b64Value[src[i+1]], b64Value[src[i+2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
		out[j], out[j+1] = byte(v>>16), byte(v>>8)
	}
	return out, true
}

// DecodeBase64URL decodes canonical unpadded base64url (the keyset's encoding); ok is false
// for any other text.
func DecodeBase64URL(text string) (data []byte, ok bool) {
	return decodeBase64URL(make([]byte, len(text)*3/4), text)
}

// EncodeBase64URL returns unpadded base64url.
func EncodeBase64URL(data []byte) string {
	out := make([]byte, 0, (len(data)*4+2)/3)
	for i := 0; i < len(data); i += 3 {
		var v uint32
		k := len(data) - i
		if k > 3 {
			k = 3
		}
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < k {
				v |= uint32(data[i+j])
			}
		}
		for j := 0; j <= k; j++ {
			out = append(out, b64Alphabet[(v>>(18-6*j))&0x3f])
		}
	}
	return string(out)
}

// parsed is a strictly parsed token whose MAC has not been checked yet: every field points
// into the decoded bytes.
type parsed struct {
	raw       []byte // body || tag
	end       int    // where the tag begins
	kid       []byte
	audience  []byte
	guid      GUID
	validFrom int64
	validTo   int64
	kind      ScopeKind
	entries   []byte // custom scope entries as on the wire
}

// decodeToken runs the text-level checks (FORMAT.md §2 rules 1-5) and decodes into buf.
func decodeToken(token string, buf []byte) ([]byte, bool) {
	if len(token) > MaxTokenText || !strings.HasPrefix(token, TokenPrefix) {
		return nil, false
	}
	payload := token[len(TokenPrefix):]
	if len(payload)*3/4 <= TagLength {
		return nil, false
	}
	return decodeBase64URL(buf, payload)
}

// parseBody runs the byte-level checks (FORMAT.md §2 rules 6-13) over raw = body || tag.
func parseBody(raw []byte, p *parsed) bool {
	if len(raw) <= TagLength {
		return false
	}
	end := len(raw) - TagLength
	body := raw[:end]
	if body[0] != tokenVersion || len(body) < 2 {
		return false
	}
	i := 2 + int(body[1])
	if i > end || !isKeyID(body[2:i]) {
		return false
	}
	p.kid = body[2:i]
	if i >= end {
		return false
	}
	n := int(body[i])
	if i+1+n > end || !isAudience(body[i+1:i+1+n]) {
		return false
	}
	p.audience = body[i+1 : i+1+n]
	i += 1 + n
	if i+33 > end {
		return false
	}
	copy(p.guid[:], body[i:i+16])
	p.validFrom = int64(binary.BigEndian.Uint64(body[i+16:]))
	p.validTo = int64(binary.BigEndian.Uint64(body[i+24:]))
	i += 32
	if p.validTo != 0 && p.validTo <= p.validFrom {
		return false
	}
	p.kind = ScopeKind(body[i])
	i++
	switch p.kind {
	case ScopeAll, ScopeReadOnly:
	case ScopeCustom:
		if i+2 > end {
			return false
		}
		count := int(body[i])<<8 | int(body[i+1])
		i += 2
		if count < 1 || count > MaxScopeEntries {
			return false
		}
		start := i
		var previous []byte
		for k := 0; k < count; k++ {
			if i >= end {
				return false
			}
			n := int(body[i])
			i++
			if n < 3 || i+n > end {
				return false
			}
			entry := body[i : i+n]
			if !isPair(entry) || (previous != nil && string(previous) >= string(entry)) {
				return false
			}
			previous = entry
			i += n
		}
		p.entries = body[start:i]
	default:
		return false
	}
	if i != end {
		return false
	}
	p.raw, p.end = raw, end
	return true
}

// ParseUnverified strictly parses a token **without checking its MAC**: nothing in the
// claims may be trusted. It is for tools and tests; services call Verifier.Check.
func ParseUnverified(token string) (Claims, error) {
	var p parsed
	raw, ok := decodeToken(token, make([]byte, maxDecoded))
	if !ok || !parseBody(raw, &p) {
		return Claims{}, errMalformed
	}
	return p.claims(string(p.kid), string(p.audience)), nil
}

func (p *parsed) claims(kid, audience string) Claims {
	c := Claims{KeyID: kid, Audience: audience, GUID: p.guid, ValidFrom: p.validFrom, ValidTo: p.validTo}
	c.Scope.Kind = p.kind
	if p.kind == ScopeCustom {
		c.Scope.entries = string(p.entries)
	}
	return c
}

// EncodeBody returns the canonical body bytes of c (for tests, tools and the worked example).
func EncodeBody(c Claims) []byte {
	out := []byte{tokenVersion, byte(len(c.KeyID))}
	out = append(out, c.KeyID...)
	out = append(out, byte(len(c.Audience)))
	out = append(out, c.Audience...)
	out = append(out, c.GUID[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(c.ValidFrom))
	out = binary.BigEndian.AppendUint64(out, uint64(c.ValidTo))
	out = append(out, byte(c.Scope.Kind))
	if c.Scope.Kind == ScopeCustom {
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.Scope.Names())))
		out = append(out, c.Scope.entries...)
	}
	return out
}
