package verify

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type answer struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET url over a real connection; each Authorization value becomes its own header line.
func get(t testing.TB, url string, authorization ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, body}
}

func TestMiddlewareOverRealHTTP(t *testing.T) {
	var logs bytes.Buffer
	log.SetOutput(&logs)
	defer log.SetOutput(io.Discard)

	store := newStore(FailClosed)
	v := newVerifier(t, store)
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := TokenFromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"guid": c.GUID.String()})
	})
	srv := httptest.NewServer(Middleware(v, WritePermission("devices.list"))(protected))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("not on 127.0.0.1: %s", srv.URL)
	}
	url := srv.URL + "/protected"

	good, goodGUID := makeToken(Scope{Kind: ScopeAll})
	readOnly, _ := makeToken(Scope{Kind: ScopeReadOnly})
	revoked, revokedGUID := makeToken(Scope{Kind: ScopeAll})
	sent := []string{good, readOnly, revoked}
	check := func(name string, a answer, status int, www string, body string) {
		t.Helper()
		if a.status != status || a.header.Get("WWW-Authenticate") != www || string(a.body) != body {
			t.Errorf("%s: %d %q %s", name, a.status, a.header.Get("WWW-Authenticate"), a.body)
		}
		if _, present := a.header["Www-Authenticate"]; www == "" && present {
			t.Errorf("%s: a challenge where none is due", name)
		}
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, a.header.Get("Cache-Control"))
		}
		for _, token := range sent {
			if strings.Contains(string(a.body), token) || strings.Contains(a.header.Get("WWW-Authenticate"), token) {
				t.Errorf("%s: the answer echoes a token", name)
			}
		}
	}

	check("no list yet, fail closed", get(t, url, "Bearer "+good), 503, "", `{"error":"temporarily_unavailable","reason":"revocations_stale"}`)
	if _, err := store.Load(makeList([]entry{{revokedGUID, 2}}, 1, 0, testSeed)); err != nil {
		t.Fatal(err)
	}
	check("no credentials", get(t, url), 401, "Bearer", `{"error":"missing_token"}`)
	check("another scheme", get(t, url, "Basic dXNlcjpwYXNz"), 401, "Bearer", `{"error":"missing_token"}`)
	check("tab after the scheme", get(t, url, "bearer\tsgl_x"), 401, "Bearer", `{"error":"missing_token"}`)
	malformed := `{"error":"invalid_request","reason":"malformed_authorization"}`
	for _, value := range []string{"Bearer", "Bearer a b", "Bearer sgl_a,b", "Bearer a=b"} {
		check(value, get(t, url, value), 400, `Bearer error="invalid_request"`, malformed)
	}
	check("two headers", get(t, url, "Bearer "+good, "Bearer "+good), 400, `Bearer error="invalid_request"`,
		`{"error":"invalid_request","reason":"multiple_authorization_headers"}`)
	for _, c := range []struct{ token, reason string }{
		{"sgl_nope", "malformed"}, {good[:len(good)-2] + "AA", ""}, {revoked, "revoked"},
	} {
		a := get(t, url, "Bearer "+c.token)
		reason := c.reason
		if reason == "" { // a changed tag is bad_signature, or malformed if its last bits are not canonical
			var body map[string]string
			_ = json.Unmarshal(a.body, &body)
			reason = body["reason"]
			if reason != "bad_signature" && reason != "malformed" {
				t.Errorf("changed tag: %s", a.body)
			}
		}
		check(c.token[:8], a, 401, `Bearer error="invalid_token", error_description="`+reason+`"`, `{"error":"invalid_token","reason":"`+reason+`"}`)
	}
	check("read-only token, write permission", get(t, url, "Bearer "+readOnly), 403, `Bearer error="insufficient_scope", scope="devices.list"`,
		`{"error":"insufficient_scope","reason":"scope_not_granted","scope":"devices.list"}`)
	ok := get(t, url, "BEARER   "+good)
	if ok.status != 200 || strings.TrimSpace(string(ok.body)) != `{"guid":"`+goodGUID.String()+`"}` {
		t.Errorf("a good token: %d %s", ok.status, ok.body)
	}
	for _, token := range sent {
		if strings.Contains(logs.String(), token) {
			t.Error("a token reached the log")
		}
	}
}

func TestReadBearerMatchesBearerCredentials(t *testing.T) {
	for _, c := range []struct {
		values []string
		kind   CredentialsKind
		token  string
	}{
		{nil, NoCredentials, ""},
		{[]string{"Basic x"}, NoCredentials, ""},
		{[]string{"Bearerx y"}, NoCredentials, ""},
		{[]string{"Bearer"}, MalformedCredentials, ""},
		{[]string{"Bearer "}, MalformedCredentials, ""},
		{[]string{"Bearer a=b"}, MalformedCredentials, ""},
		{[]string{"Bearer é"}, MalformedCredentials, ""},
		{[]string{"a", "b"}, RepeatedCredentials, ""},
		{[]string{"bEaReR  abc-._~+/=="}, BearerCredentials, "abc-._~+/=="},
		{[]string{"Bearer " + strings.Repeat("a", 100000) + " "}, MalformedCredentials, ""},
	} {
		kind, token := ReadBearer(c.values)
		if kind != c.kind || token != c.token {
			t.Errorf("%.20q: %d %q", c.values, kind, token)
		}
	}
}
