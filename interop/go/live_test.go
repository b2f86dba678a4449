package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real binaries: SIGIL_BIN and SIGIL_SERVER_BIN, else the repository's debug builds.
func realBinary(t *testing.T, env string, parts ...string) string {
	path := os.Getenv(env)
	if path == "" {
		path = repoPath(parts...)
	}
	if st, err := os.Stat(path); err != nil || st.Mode()&0o111 == 0 || st.IsDir() {
		t.Skipf("%s is missing (%s): skipped", path, env)
	}
	abs, _ := filepath.Abs(path)
	return abs
}

type live struct {
	t     *testing.T
	sigil string
	home  string
}

func (l *live) cli(args ...string) []byte {
	l.t.Helper()
	cmd := exec.Command(l.sigil, append([]string{"--home", l.home}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SIGIL_HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		l.t.Fatalf("sigil %s: %v: %s", args[0], err, stderr)
	}
	return out
}

type issued struct {
	GUID  string `json:"guid"`
	Token string `json:"token"`
}

func (l *live) issue(audience string, scope ...string) issued {
	var out issued
	if err := json.Unmarshal(l.cli(append([]string{"issue", "--json", "--name", "t", "--audience", audience}, scope...)...), &out); err != nil {
		l.t.Fatal(err)
	}
	return out
}

// Tokens, keysets and lists written by the Swift CLI verify here as `sigil verify` says.
func TestSwiftCLITokensAndLists(t *testing.T) {
	l := &live{t: t, sigil: realBinary(t, "SIGIL_BIN", ".build", "debug", "sigil"), home: filepath.Join(t.TempDir(), "home")}
	good := l.issue("billing", "--scope", "devices.list")
	gone := l.issue("billing", "--all")
	other := l.issue("invoices", "--all")
	l.cli("revoke", "--yes", gone.GUID)
	keysetPath := filepath.Join(t.TempDir(), "keyset.json")
	listPath := filepath.Join(t.TempDir(), "revocations.sgl")
	l.cli("keys", "export", "--audience", "billing", "-o", keysetPath)
	l.cli("revocations", "export", "-o", listPath)
	keyset, err := ReadKeyset(keysetPath)
	if err != nil {
		t.Fatal(err)
	}
	store := NewRevocationStore(keyset.RevocationKeys, FailClosed, StaleFailsClosed())
	if _, err := store.LoadFile(listPath); err != nil {
		t.Fatal(err)
	}
	v := keyset.NewVerifier(store)
	if c, err := v.Check(good.Token, ReadPermission("devices.list")); err != nil || c.GUID.String() != good.GUID {
		t.Errorf("good: %v", err)
	}
	for token, want := range map[string]Reason{gone.Token: Revoked, other.Token: WrongAudience} {
		if _, err := v.Check(token, Permission{}); ReasonOf(err) != want {
			t.Errorf("%v, want %s", err, want)
		}
	}
	if _, err := v.Check(good.Token, WritePermission("devices.delete")); ReasonOf(err) != ScopeNotGranted {
		t.Errorf("scope: %v", err)
	}
}

var listening = regexp.MustCompile(`sigil-server: listening on http://[^\s]+:(\d+)`)

// A token revoked through a real sigil-server is refused within 2 s by this package's
// middleware (in this process) and by the example server (its own process), each following
// GET /v1/revocations.
func TestRevokeThroughSigilServerIsRefusedWithinTwoSeconds(t *testing.T) {
	sigil := realBinary(t, "SIGIL_BIN", ".build", "debug", "sigil")
	server := realBinary(t, "SIGIL_SERVER_BIN", "Server", ".build", "debug", "sigil-server")
	t.Parallel()
	root := t.TempDir()
	l := &live{t: t, sigil: sigil, home: filepath.Join(root, "home")}
	org := l.issue("sigil", "--all")
	svc := l.issue("billing", "--scope", "devices.list")
	keysetPath := filepath.Join(root, "keyset.json")
	l.cli("keys", "export", "--audience", "billing", "-o", keysetPath)

	logPath := filepath.Join(root, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	proc := exec.Command(server, "--home", l.home, "--port", "0")
	proc.Stdout, proc.Stderr = logFile, logFile
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = proc.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- proc.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = proc.Process.Kill()
			<-done
		}
	}()
	port := ""
	if !waitUntil(30*time.Second, func() bool {
		text, _ := os.ReadFile(logPath)
		if m := listening.FindSubmatch(text); m != nil {
			port = string(m[1])
		}
		return port != ""
	}) {
		text, _ := os.ReadFile(logPath)
		t.Fatalf("sigil-server did not start:\n%s", text)
	}
	listURL := "http://127.0.0.1:" + port + "/v1/revocations"

	// This package's middleware, in this process.
	keyset, err := ReadKeyset(keysetPath)
	if err != nil {
		t.Fatal(err)
	}
	store := NewRevocationStore(keyset.RevocationKeys, FailClosed, StaleFailsClosed())
	follower, err := NewRevocationFollower(listURL, store, 10)
	if err != nil {
		t.Fatal(err)
	}
	follower.Logf = quiet
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go follower.Run(ctx)
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := TokenFromContext(r.Context())
		fmt.Fprintf(w, `{"guid":%q}`, c.GUID.String())
	})
	srv := httptest.NewServer(Middleware(keyset.NewVerifier(store), ReadPermission("devices.list"))(protected))
	defer srv.Close()

	// The example server, in its own process.
	example := exec.Command(command(t, "sigil-example-server"), "--port", "0", "--keyset", keysetPath, "--revocations-url", listURL,
		"--permission", "devices.list", "--access", "read", "--wait", "10")
	stdout, _ := example.StdoutPipe()
	if err := example.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = example.Process.Signal(syscall.SIGTERM)
		_ = example.Wait()
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var examplePort int
	if _, err := fmt.Sscanf(line, "listening %d", &examplePort); err != nil {
		t.Fatalf("example server: %q", line)
	}
	urls := []string{srv.URL + "/protected", fmt.Sprintf("http://127.0.0.1:%d/protected", examplePort)}
	auth := "Bearer " + svc.Token
	for _, u := range urls {
		if !waitUntil(10*time.Second, func() bool { return get(t, u, auth).status == 200 }) {
			t.Fatalf("%s never answered 200", u)
		}
	}
	time.Sleep(1500 * time.Millisecond) // both followers are now holding a long poll
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/v1/tokens/"+svc.GUID+"/revoke", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+org.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	resp.Body.Close()
	revokedAt := time.Now()
	for _, u := range urls {
		if !waitUntil(2*time.Second-time.Since(revokedAt), func() bool { return get(t, u, auth).status == 401 }) {
			t.Errorf("%s still accepts the revoked token", u)
		}
		if a := get(t, u, auth); !strings.Contains(a.header.Get("WWW-Authenticate"), `error_description="revoked"`) {
			t.Errorf("%s: %q", u, a.header.Get("WWW-Authenticate"))
		}
	}
	took := time.Since(revokedAt)
	t.Logf("revoke refused by both after %v", took)
	if took >= 2*time.Second {
		t.Errorf("took %v", took)
	}
}
