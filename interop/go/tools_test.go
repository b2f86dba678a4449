package verify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The executables and the example, built once per test run into a temporary directory.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// command returns the path of one of this module's programs (cmd/NAME or examples/NAME).
func command(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "sigil-go-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command(goTool(), "build", "-o", binDir+string(os.PathSeparator), "./cmd/...", "./examples/...")
		cmd.Env = append(os.Environ(), "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

func cleanupCommands() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

func writeKeyset(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "keyset.json")
	if err := os.WriteFile(path, keysetJSON(publicKey(testSeed)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExampleVerifyToken(t *testing.T) {
	t.Parallel()
	keyset := writeKeyset(t)
	good, goodGUID := makeToken(CustomScope("devices.list"))
	revoked, g := makeToken(Scope{Kind: ScopeAll})
	readOnly, roGUID := makeToken(Scope{Kind: ScopeReadOnly})
	list := filepath.Join(t.TempDir(), "revocations.sgl")
	if err := os.WriteFile(list, makeList([]entry{{g, 2}}, 1, 0, testSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	example := command(t, "verify_token")
	run := func(token string) string {
		cmd := exec.Command(example, keyset, list)
		cmd.Stdin = strings.NewReader(token + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if strings.Contains(string(out), token) {
			t.Error("the example printed the token")
		}
		return strings.TrimSpace(string(out))
	}
	for token, want := range map[string]string{
		good: "valid " + goodGUID.String(), revoked: "refused revoked",
		readOnly: "valid " + roGUID.String(), "sgl_nope": "refused malformed",
	} {
		if got := run(token); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func TestExampleServer(t *testing.T) {
	t.Parallel()
	issuer := newFakeIssuer(t)
	keyset := writeKeyset(t)
	token, g := makeToken(CustomScope("devices.list"))
	var stderr bytes.Buffer
	cmd := exec.Command(command(t, "sigil-example-server"), "--port", "0", "--keyset", keyset, "--revocations-url", issuer.url,
		"--permission", "devices.list", "--access", "read", "--wait", "5")
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var port int
	if _, err := fmt.Sscanf(line, "listening %d", &port); err != nil || port == 0 {
		t.Fatalf("first line %q (%v)", line, err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/protected", port)
	auth := "Bearer " + token
	if a := get(t, url, auth); a.status != 503 {
		t.Errorf("before the first list: %d", a.status)
	}
	issuer.publish(makeList(nil, 1, 0, testSeed), 1)
	if !waitUntil(5*time.Second, func() bool { return get(t, url, auth).status == 200 }) {
		t.Fatal("never 200")
	}
	if a := get(t, url, auth); string(a.body) != `{"guid": "`+g.String()+`"}` {
		t.Errorf("body %s", a.body)
	}
	if a := get(t, url); a.status != 401 {
		t.Errorf("no token: %d", a.status)
	}
	if a := get(t, strings.Replace(url, "/protected", "/elsewhere", 1), auth); a.status != 404 {
		t.Errorf("elsewhere: %d", a.status)
	}
	other, _ := makeToken(CustomScope("invoices.read"))
	if a := get(t, url, "Bearer "+other); a.status != 403 {
		t.Errorf("another scope: %d", a.status)
	}
	time.Sleep(300 * time.Millisecond) // let the follower's next long poll start
	issuer.publish(makeList([]entry{{g, 2}}, 2, 0, testSeed), 2)
	started := time.Now()
	if !waitUntil(2*time.Second, func() bool { return get(t, url, auth).status == 401 }) || time.Since(started) >= 2*time.Second {
		t.Error("the revoke was not seen within 2 s")
	}
	if a := get(t, url, auth); !strings.Contains(a.header.Get("WWW-Authenticate"), `error_description="revoked"`) {
		t.Errorf("challenge %q", a.header.Get("WWW-Authenticate"))
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token reached stderr")
	}
}

// vectorCases turns tokens-v1.json into conformance cases (the revoked GUIDs become a list
// signed with a test-only key), with each vector's expected answer.
func vectorCases(t *testing.T) (cases []map[string]any, want []string) {
	seed := bytes.Repeat([]byte{0x33}, 32)
	for _, v := range loadTokenVectors(t) {
		var entries []entry
		for _, r := range v.Revoked {
			g, _ := ParseGUID(r.GUID)
			entries = append(entries, entry{g, map[string]byte{"revoked": 2, "deactivated": 1}[r.Status]})
		}
		var list any
		if len(entries) > 0 {
			list = base64.StdEncoding.EncodeToString(makeList(entries, 1, 0, seed))
		}
		var tokenKeys []map[string]string
		for _, k := range v.Keys {
			tokenKeys = append(tokenKeys, map[string]string{"kid": k.Kid, "key": EncodeBase64URL(unhex(t, k.KeyHex))})
		}
		audience := v.Audience
		if !IsValidAudience(audience) {
			audience = "billing"
		}
		c := map[string]any{
			"keyset": map[string]any{"format": KeysetFormat, "audience": audience, "token_keys": tokenKeys,
				"revocation_keys": []map[string]string{{"kid": "r1", "public_key": EncodeBase64URL(publicKey(seed))}}},
			"revocations": list, "token": v.Token, "audience": v.Audience, "permission": nil, "access": nil,
			"now": v.Now, "leeway": v.Leeway, "when_no_list": "fail_open",
		}
		if v.Permission != nil {
			c["permission"], c["access"] = v.Permission.Name, v.Permission.Access
		}
		cases = append(cases, c)
		if v.Expected.Valid {
			want = append(want, `{"valid":true,"guid":"`+v.Expected.Claims.GUID+`"}`)
		} else {
			want = append(want, `{"valid":false,"reason":"`+*v.Expected.Reason+`"}`)
		}
	}
	return cases, want
}

func runConformance(t *testing.T, runner []string, input []byte) []string {
	t.Helper()
	cmd := exec.Command(runner[0], runner[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", runner[0], err, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func jsonLines(t *testing.T, cases []map[string]any) []byte {
	var b bytes.Buffer
	for _, c := range cases {
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestConformanceRunnerAgreesWithTheVectors(t *testing.T) {
	t.Parallel()
	cases, want := vectorCases(t)
	var batch []map[string]any
	var expected []string
	for len(batch) < 6000 { // the runner must answer thousands of cases in a few seconds
		batch = append(batch, cases...)
		expected = append(expected, want...)
	}
	input := jsonLines(t, batch)
	started := time.Now()
	answers := runConformance(t, []string{command(t, "sigil-conformance")}, input)
	took := time.Since(started)
	if len(answers) != len(batch) {
		t.Fatalf("%d answers for %d cases", len(answers), len(batch))
	}
	for i := range answers {
		if answers[i] != expected[i] {
			t.Fatalf("case %d: %s, want %s", i, answers[i], expected[i])
		}
	}
	t.Logf("%d cases in %v", len(batch), took)
	if took > 10*time.Second {
		t.Errorf("%d cases took %v", len(batch), took)
	}
}

func TestConformanceRunnerListsAndPolicies(t *testing.T) {
	t.Parallel()
	token, g := makeToken(Scope{Kind: ScopeAll})
	var keyset map[string]any
	_ = json.Unmarshal(keysetJSON(publicKey(testSeed)), &keyset)
	base := func(changes map[string]any) map[string]any {
		c := map[string]any{"keyset": keyset, "revocations": nil, "token": token, "audience": testAudience, "permission": nil,
			"access": nil, "now": time.Now().Unix(), "leeway": 60, "when_no_list": "fail_open"}
		for k, v := range changes {
			c[k] = v
		}
		return c
	}
	b64 := base64.StdEncoding.EncodeToString
	answers := runConformance(t, []string{command(t, "sigil-conformance")}, jsonLines(t, []map[string]any{
		base(nil),
		base(map[string]any{"when_no_list": "fail_closed"}),
		base(map[string]any{"revocations": b64(makeList([]entry{{g, 1}}, 1, 0, testSeed))}),
		base(map[string]any{"revocations": b64(damageSignature(makeList(nil, 1, 0, testSeed)))}),
		base(map[string]any{"revocations": b64([]byte("SGLR\x02\x02r1"))}),
		base(map[string]any{"revocations": b64(makeList(nil, 1, 1, testSeed))}), // stale: served by default
		base(map[string]any{"token": "sgl_x", "when_no_list": "fail_closed"}),
		base(map[string]any{"permission": "devices.delete", "access": "write"}),
		base(map[string]any{"permission": "Devices.delete"}),
		base(map[string]any{"leeway": 86401}),
		base(map[string]any{"revocations": "!!"}),
	}))
	guid := g.String()
	want := []string{
		`{"valid":true,"guid":"` + guid + `"}`,
		`{"valid":false,"reason":"revocations_stale"}`,
		`{"valid":false,"reason":"deactivated"}`,
		`{"valid":false,"list_error":"bad_signature"}`,
		`{"valid":false,"list_error":"unsupported_version"}`,
		`{"valid":true,"guid":"` + guid + `"}`,
		`{"valid":false,"reason":"malformed"}`,
		`{"valid":true,"guid":"` + guid + `"}`,
	}
	for i, w := range want {
		if answers[i] != w {
			t.Errorf("case %d: %s, want %s", i, answers[i], w)
		}
	}
	for i := len(want); i < len(want)+2; i++ {
		if !strings.HasPrefix(answers[i], `{"error":`) {
			t.Errorf("case %d: %s, want an error", i, answers[i])
		}
	}
	if answers[len(answers)-1] != `{"valid":false,"list_error":"malformed"}` {
		t.Errorf("undecodable list: %s", answers[len(answers)-1])
	}
}

// The Swift runner is the reference (scripts/conformance.sh): when its binary is here, its
// generator's cases are answered by both and every answer must agree (error texts aside).
func TestConformanceAgreesWithTheSwiftRunner(t *testing.T) {
	t.Parallel()
	swift := os.Getenv("SIGIL_CONFORMANCE_BIN")
	if swift == "" {
		swift = repoPath(".build", "debug", "sigil-conformance")
	}
	if st, err := os.Stat(swift); err != nil || st.Mode()&0o111 == 0 {
		t.Skip("no sigil-conformance binary (SIGIL_CONFORMANCE_BIN or .build/debug/sigil-conformance)")
	}
	cases, err := exec.Command(swift, "generate").Output()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	reference := runConformance(t, []string{swift, "run"}, cases)
	started := time.Now()
	answers := runConformance(t, []string{command(t, "sigil-conformance")}, cases)
	t.Logf("Go answered %d generated cases in %v", len(answers), time.Since(started))
	if len(answers) != len(reference) {
		t.Fatalf("%d answers, Swift gave %d", len(answers), len(reference))
	}
	lines := strings.Split(string(cases), "\n")
	disagreements := 0
	for i := range answers {
		bothErrors := strings.HasPrefix(answers[i], `{"error":`) && strings.HasPrefix(reference[i], `{"error":`)
		if answers[i] != reference[i] && !bothErrors {
			disagreements++
			if disagreements <= 5 {
				t.Errorf("case %d: Go %s, Swift %s\n  %.300s", i, answers[i], reference[i], lines[i])
			}
		}
	}
	if disagreements > 0 {
		t.Errorf("%d disagreements with the Swift runner", disagreements)
	}
}

func TestBenchPrintsOneJSONLine(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(command(t, "sigil-bench"), "--seconds", "0.2").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r struct {
		Language string  `json:"language"`
		VerifyNS float64 `json:"verify_ns"`
		HMACNS   float64 `json:"hmac_ns"`
		Ratio    float64 `json:"ratio"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r) != nil {
		t.Fatalf("output %q", out)
	}
	if r.Language != "go" || r.VerifyNS <= 0 || r.HMACNS <= 0 || r.Ratio < r.VerifyNS/r.HMACNS-0.01 || r.Ratio > r.VerifyNS/r.HMACNS+0.01 {
		t.Errorf("%+v", r)
	}
}

// The README shows the example's main function verbatim; the example is what the tests run.
func TestREADMEShowsTheExample(t *testing.T) {
	readme, err1 := os.ReadFile("README.md")
	example, err2 := os.ReadFile(filepath.Join("examples", "verify_token", "main.go"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	body := string(example[bytes.Index(example, []byte("func main() {")):])
	if !strings.Contains(string(readme), "```go\n"+body+"```\n") {
		t.Error("README.md does not show examples/verify_token/main.go's main function verbatim")
	}
}
