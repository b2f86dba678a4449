package verify

import (
	"context"
	"net/http"
	"strconv"
)

// The answers follow SigilHummingbird (Server/Sources/SigilHummingbird/SigilChallenge.swift):
//
//	no Bearer credentials                          401  WWW-Authenticate: Bearer
//	two Authorization headers, or not one b64token 400  Bearer error="invalid_request"
//	a token that fails verification                401  Bearer error="invalid_token", error_description="<reason>"
//	a valid token without the permission           403  Bearer error="insufficient_scope", scope="<resource.action>"
//	revocation list stale, policy fails closed     503  (no challenge)
//
// Everything put in a header or body is a reason code or a permission name, never anything
// the client sent: the token is never logged or echoed.

// CredentialsKind is what an Authorization header holds.
type CredentialsKind uint8

// Credentials kinds.
const (
	NoCredentials        CredentialsKind = iota + 1 // no header, or another scheme
	RepeatedCredentials                             // more than one Authorization header
	MalformedCredentials                            // Bearer, but not one b64token
	BearerCredentials
)

// ReadBearer reads RFC 6750 §2.1 credentials as SigilVerifier's BearerCredentials does:
// exactly one header, the scheme name in any case, one or more spaces, then one b64token
// and nothing else. token is set only for BearerCredentials.
func ReadBearer(values []string) (kind CredentialsKind, token string) {
	if len(values) > 1 {
		return RepeatedCredentials, ""
	}
	if len(values) == 0 {
		return NoCredentials, ""
	}
	v := values[0]
	space := -1
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			space = i
			break
		}
	}
	scheme := v
	if space >= 0 {
		scheme = v[:space]
	}
	if len(scheme) != 6 || !asciiEqualFold(scheme, "bearer") {
		return NoCredentials, ""
	}
	if space < 0 {
		return MalformedCredentials, ""
	}
	t := v[space:]
	for len(t) > 0 && t[0] == ' ' {
		t = t[1:]
	}
	if !isB64Token(t) {
		return MalformedCredentials, ""
	}
	return BearerCredentials, t
}

func asciiEqualFold(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(t string) bool {
	i := 0
	for ; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(t); i++ {
		if t[i] != '=' {
			return false
		}
	}
	return true
}

// Challenge is a refusal: an HTTP status, a WWW-Authenticate value ("" for none) and a JSON body.
type Challenge struct {
	Status          int
	WWWAuthenticate string
	Body            string
}

// Write sends the challenge, with Cache-Control: no-store.
func (c *Challenge) Write(w http.ResponseWriter) {
	h := w.Header()
	if c.WWWAuthenticate != "" {
		h.Set("WWW-Authenticate", c.WWWAuthenticate)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(c.Body)))
	w.WriteHeader(c.Status)
	_, _ = w.Write([]byte(c.Body))
}

var (
	missingToken = &Challenge{401, "Bearer", `{"error":"missing_token"}`}
	repeated     = &Challenge{400, `Bearer error="invalid_request"`, `{"error":"invalid_request","reason":"multiple_authorization_headers"}`}
	malformed    = &Challenge{400, `Bearer error="invalid_request"`, `{"error":"invalid_request","reason":"malformed_authorization"}`}
)

// ChallengeFor is the answer to a refused token (err from Check) that needed permission p.
func ChallengeFor(err error, p Permission) *Challenge {
	code := string(ReasonOf(err))
	switch code {
	case string(ScopeNotGranted):
		return &Challenge{403, `Bearer error="insufficient_scope", scope="` + p.name + `"`,
			`{"error":"insufficient_scope","reason":"` + code + `","scope":"` + p.name + `"}`}
	case string(RevocationsStale):
		// The service's list is too old and its policy fails closed: not the client's fault.
		return &Challenge{503, "", `{"error":"temporarily_unavailable","reason":"` + code + `"}`}
	case "":
		code = string(Malformed)
	}
	return &Challenge{401, `Bearer error="invalid_token", error_description="` + code + `"`,
		`{"error":"invalid_token","reason":"` + code + `"}`}
}

// Authorize is the whole middleware decision for one request: the token's claims, or the
// challenge to answer with.
func Authorize(v *Verifier, r *http.Request, p Permission) (Claims, *Challenge) {
	kind, token := ReadBearer(r.Header.Values("Authorization"))
	switch kind {
	case NoCredentials:
		return Claims{}, missingToken
	case RepeatedCredentials:
		return Claims{}, repeated
	case MalformedCredentials:
		return Claims{}, malformed
	}
	c, err := v.Check(token, p)
	if err != nil {
		return Claims{}, ChallengeFor(err, p)
	}
	return c, nil
}

type contextKey struct{}

// Middleware lets a request through to the next handler only if it carries a Sigil token
// that verifies and grants p (the zero Permission: any valid token). The handler finds the
// token's claims with TokenFromContext; a refusal is answered here.
//
//	mux.Handle("/devices", verify.Middleware(verifier, verify.ReadPermission("devices.list"))(devices))
func Middleware(v *Verifier, p Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, refusal := Authorize(v, r, p)
			if refusal != nil {
				refusal.Write(w)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, c)))
		})
	}
}

// TokenFromContext returns the claims Middleware put in an accepted request's context.
func TokenFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(Claims)
	return c, ok
}
