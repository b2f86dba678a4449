package verify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	log.SetOutput(io.Discard) // the follower and watcher log every list; keep test output short
	code := m.Run()
	cleanupCommands()
	os.Exit(code)
}

type request struct {
	at     time.Time
	etag   string
	path   string
	accept string
}

// fakeIssuer stands in for sigil-server's GET /v1/revocations: ETag "<sequence>",
// If-None-Match, and ?wait= long polls that a publish wakes (docs/API.md). With deltas,
// ?since=S is answered with the delta from the list published as S (makeDelta), even when
// it is not smaller than the list (sigil-server would send the list then; test lists are
// small); forcedDelta answers every since instead.
type fakeIssuer struct {
	mu          sync.Mutex
	data        []byte
	sequence    int
	changed     chan struct{}
	mode        string // normal | error | declare_huge | stream_huge | stall
	requests    []request
	srv         *httptest.Server
	url         string
	deltas      bool
	published   map[int][]byte // every list published, by its ETag sequence
	forcedDelta []byte
	deltasSent  int
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	f := &fakeIssuer{changed: make(chan struct{}), published: map[int][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	f.url = f.srv.URL + "/v1/revocations"
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) publish(data []byte, sequence int) {
	f.mu.Lock()
	f.data, f.sequence = data, sequence
	if _, ok := f.published[sequence]; !ok {
		f.published[sequence] = data
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeIssuer) setMode(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *fakeIssuer) setDeltas(on bool, forced []byte) {
	f.mu.Lock()
	f.deltas, f.forcedDelta = on, forced
	f.mu.Unlock()
}

func (f *fakeIssuer) sentDeltas() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deltasSent
}

func (f *fakeIssuer) log() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func (f *fakeIssuer) handle(w http.ResponseWriter, r *http.Request) {
	etag := r.Header.Get("If-None-Match")
	f.mu.Lock()
	f.requests = append(f.requests, request{time.Now(), etag, r.URL.RequestURI(), r.Header.Get("Accept")})
	mode := f.mode
	f.mu.Unlock()
	switch mode {
	case "error":
		http.Error(w, "oops", 500)
		return
	case "declare_huge":
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.WriteHeader(200)
		_, _ = w.Write([]byte("SGLR"))
		return
	case "stream_huge":
		w.WriteHeader(200)
		for i := 0; i < 64; i++ {
			_, _ = w.Write(make([]byte, 1024))
			w.(http.Flusher).Flush()
		}
		return
	case "stall":
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(304)
		return
	}
	wait, _ := strconv.Atoi(r.URL.Query().Get("wait"))
	f.mu.Lock()
	current, changed := fmt.Sprintf(`"%d"`, f.sequence), f.changed
	f.mu.Unlock()
	if etag == current && wait > 0 {
		select {
		case <-changed:
		case <-time.After(time.Duration(wait) * time.Second):
		case <-r.Context().Done():
		}
	}
	f.mu.Lock()
	data, seq := f.data, f.sequence
	f.mu.Unlock()
	if data == nil || etag == fmt.Sprintf(`"%d"`, seq) {
		w.WriteHeader(304)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, seq))
	mediaType := RevocationsMediaType
	if since, err := strconv.Atoi(r.URL.Query().Get("since")); err == nil {
		f.mu.Lock()
		delta := f.forcedDelta
		if base, ok := f.published[since]; ok && delta == nil && f.deltas && since != seq {
			delta = makeDelta(base, data)
		}
		if delta != nil {
			data, mediaType = delta, RevocationDeltaMediaType
			f.deltasSent++
		}
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", mediaType)
	_, _ = w.Write(data)
}

func quiet(string, ...any) {}

func TestFollowerSeesARevokeWithinTwoSeconds(t *testing.T) {
	t.Parallel()
	issuer := newFakeIssuer(t)
	issuer.setDeltas(true, nil)
	token, g := makeToken(Scope{Kind: ScopeAll})
	issuer.publish(makeList(nil, 1, 0, testSeed), 1)
	store := newStore(FailClosed)
	v := newVerifier(t, store)
	if _, err := v.Check(token, Permission{}); ReasonOf(err) != RevocationsStale {
		t.Fatalf("fails closed until the first list: %v", err)
	}
	follower, err := NewRevocationFollower(issuer.url, store, 5)
	if err != nil {
		t.Fatal(err)
	}
	follower.Logf = quiet
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- follower.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
	}()
	if !waitUntil(5*time.Second, func() bool { _, err := v.Check(token, Permission{}); return err == nil }) {
		t.Fatal("the first list was not installed")
	}
	if !waitUntil(5*time.Second, func() bool { return len(issuer.log()) >= 2 }) {
		t.Fatal("no long poll")
	}
	time.Sleep(200 * time.Millisecond)
	revokedAt := time.Now()
	issuer.publish(makeList([]entry{{g, 2}}, 2, 0, testSeed), 2)
	if !waitUntil(2*time.Second, func() bool { _, err := v.Check(token, Permission{}); return ReasonOf(err) == Revoked }) {
		t.Fatal("the revoke was not seen")
	}
	if took := time.Since(revokedAt); took >= 2*time.Second {
		t.Errorf("took %v", took)
	}
	log := issuer.log()
	if log[0].etag != "" || log[0].path != "/v1/revocations?wait=5" || log[1].etag != `"1"` ||
		log[1].path != "/v1/revocations?since=1&wait=5" {
		t.Errorf("requests %+v", log[:2])
	}
	if issuer.sentDeltas() != 1 {
		t.Errorf("the revoke came in %d deltas, want 1", issuer.sentDeltas())
	}
}

func TestFollowerAsksWithSinceAndInstallsDeltas(t *testing.T) {
	t.Parallel()
	issuer := newFakeIssuer(t)
	issuer.setDeltas(true, nil)
	store := newStore(FailClosed)
	follower, _ := NewRevocationFollower(issuer.url, store, 1)
	follower.Logf = quiet
	ctx := context.Background()
	a, b, c := randomGUID(), randomGUID(), randomGUID()
	first := makeList([]entry{{a, 1}}, 1, 0, testSeed)
	issuer.publish(first, 1)
	if r, err := follower.PollOnce(ctx); r != PollCurrent || store.Current().Sequence != 1 {
		t.Fatalf("the first list: %v %v", r, err)
	}
	second := makeList([]entry{{a, 2}, {b, 2}}, 2, 0, testSeed)
	issuer.publish(second, 2)
	if r, err := follower.PollOnce(ctx); r != PollCurrent || !bytes.Equal(store.Current().Bytes(), second) {
		t.Fatalf("the delta to list 2: %v %v", r, err)
	}
	if issuer.sentDeltas() != 1 || store.Status(a, 0) != StatusRevoked || store.Status(b, 0) != StatusRevoked || follower.ETag() != `"2"` {
		t.Errorf("list 2 was not installed from a delta (%d sent)", issuer.sentDeltas())
	}
	log := issuer.log()
	want := RevocationsMediaType + ", " + RevocationDeltaMediaType
	if log[0].path != "/v1/revocations?wait=1" || log[1].path != "/v1/revocations?since=1&wait=1" || log[0].accept != want || log[1].accept != want {
		t.Errorf("requests %+v", log)
	}

	// A delta that does not apply is refused, and the next request asks for the whole list
	// (no since), even though the server keeps answering since with that delta.
	stranger := makeList([]entry{{a, 2}, {c, 2}}, 2, 0, testSeed) // another list 2
	sequence := 2
	for _, bad := range []struct {
		delta func(next []byte) []byte
		want  Reason
	}{
		{func(next []byte) []byte { return makeDelta(stranger, next) }, Malformed}, // c is not in force
		{func(next []byte) []byte { return makeDelta(makeList(nil, 7, 0, testSeed), next) }, DeltaBaseMismatch},
		{func(next []byte) []byte { return damageSignature(makeDelta(store.Current().Bytes(), next)) }, BadSignature},
	} {
		inForce := store.Current()
		sequence++
		next := makeList([]entry{{b, 1}, {randomGUID(), 2}}, uint64(sequence), 0, testSeed)
		issuer.setDeltas(true, bad.delta(next))
		issuer.publish(next, sequence)
		if r, err := follower.PollOnce(ctx); r != PollFailed || ReasonOf(err) != bad.want {
			t.Errorf("%s: %v %v", bad.want, r, err)
		}
		if store.Current() != inForce || follower.ETag() != fmt.Sprintf(`"%d"`, sequence-1) {
			t.Errorf("%s: a refused delta changed something", bad.want)
		}
		if r, err := follower.PollOnce(ctx); r != PollCurrent || !bytes.Equal(store.Current().Bytes(), next) {
			t.Errorf("%s: no recovery: %v %v", bad.want, r, err)
		}
		log := issuer.log()
		if p := log[len(log)-2].path; p != fmt.Sprintf("/v1/revocations?since=%d&wait=1", sequence-1) {
			t.Errorf("%s: the delta was asked for with %s", bad.want, p)
		}
		if p := log[len(log)-1].path; p != "/v1/revocations?wait=1" {
			t.Errorf("%s: the recovery asked with %s", bad.want, p)
		}
	}

	// Recovered: since again, and deltas again.
	issuer.setDeltas(true, nil)
	sent := issuer.sentDeltas()
	last := makeList([]entry{{c, 1}}, uint64(sequence+1), 0, testSeed)
	issuer.publish(last, sequence+1)
	if r, err := follower.PollOnce(ctx); r != PollCurrent || !bytes.Equal(store.Current().Bytes(), last) || issuer.sentDeltas() != sent+1 {
		t.Errorf("after recovery: %v %v", r, err)
	}
	if log := issuer.log(); log[len(log)-1].path != fmt.Sprintf("/v1/revocations?since=%d&wait=1", sequence) {
		t.Errorf("after recovery: %s", log[len(log)-1].path)
	}
}

func TestFollowerRefusesRollbackEquivocationAndForgery(t *testing.T) {
	t.Parallel()
	issuer := newFakeIssuer(t)
	store := newStore(FailClosed)
	follower, _ := NewRevocationFollower(issuer.url, store, 1)
	follower.Logf = quiet
	ctx := context.Background()
	g := randomGUID()
	issuer.publish(makeList([]entry{{g, 2}}, 5, 0, testSeed), 5)
	if r, err := follower.PollOnce(ctx); r != PollCurrent || store.Current().Sequence != 5 {
		t.Fatalf("%v %v", r, err)
	}
	if r, err := follower.PollOnce(ctx); r != PollNotModified {
		t.Fatalf("%v %v", r, err)
	}
	inForce := store.Current()
	for _, c := range []struct {
		data []byte
		seq  int
		want Reason
	}{
		{makeList(nil, 4, 0, testSeed), 4, Rollback},
		{makeList([]entry{{g, 1}}, 5, 0, testSeed), 6, Equivocation}, // served under another ETag
		{makeList(nil, 9, 0, seq(0x22, 32)), 9, BadSignature},
		{damageSignature(makeList(nil, 10, 0, testSeed)), 10, BadSignature},
	} {
		issuer.publish(c.data, c.seq)
		r, err := follower.PollOnce(ctx)
		if r != PollFailed || ReasonOf(err) != c.want {
			t.Errorf("sequence %d: %v %v, want %s", c.seq, r, err, c.want)
		}
		if store.Current() != inForce || store.Status(g, time.Now().Unix()) != StatusRevoked || follower.ETag() != `"5"` {
			t.Errorf("sequence %d: a refused list changed something", c.seq)
		}
	}
	issuer.publish(makeList(nil, 11, 0, testSeed), 11)
	if r, _ := follower.PollOnce(ctx); r != PollCurrent || store.Current().Sequence != 11 || follower.ETag() != `"11"` {
		t.Errorf("a newer list: %v", r)
	}
}

func TestFollowerBoundsSizeAndTime(t *testing.T) {
	t.Parallel()
	issuer := newFakeIssuer(t)
	store := newStore(FailClosed, MaxListBytes(4096))
	follower, _ := NewRevocationFollower(issuer.url, store, 1)
	follower.Logf = quiet
	ctx := context.Background()
	issuer.setMode("declare_huge")
	if r, err := follower.PollOnce(ctx); r != PollFailed || ReasonOf(err) != TooLarge {
		t.Errorf("declared too large: %v %v", r, err)
	}
	issuer.setMode("stream_huge") // no Content-Length: cut off past MaxBytes
	if r, err := follower.PollOnce(ctx); r != PollFailed || ReasonOf(err) != TooLarge {
		t.Errorf("streamed too large: %v %v", r, err)
	}
	issuer.setMode("stall")
	follower.Slack = 500 * time.Millisecond
	started := time.Now()
	if r, _ := follower.PollOnce(ctx); r != PollFailed {
		t.Errorf("stalled: %v", r)
	}
	if took := time.Since(started); took > 2500*time.Millisecond {
		t.Errorf("a stalled request took %v", took)
	}
	issuer.setMode("error")
	if r, err := follower.PollOnce(ctx); r != PollFailed || !strings.Contains(err.Error(), "500") {
		t.Errorf("HTTP 500: %v %v", r, err)
	}
	if store.Current() != nil {
		t.Error("something was installed")
	}
}

func TestFollowerBacksOffDoublingToACap(t *testing.T) {
	t.Parallel()
	if MinBackoff != time.Second || MaxBackoff != 30*time.Second {
		t.Errorf("backoff bounds %v..%v, want 1 s..30 s", MinBackoff, MaxBackoff)
	}
	issuer := newFakeIssuer(t)
	issuer.setMode("error")
	follower, _ := NewRevocationFollower(issuer.url, newStore(FailClosed), 1)
	follower.Logf = quiet
	follower.MinBackoff, follower.MaxBackoff = 100*time.Millisecond, 400*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- follower.Run(ctx) }()
	ok := waitUntil(5*time.Second, func() bool { return len(issuer.log()) >= 6 })
	cancel()
	<-done
	if !ok {
		t.Fatal("fewer than 6 requests")
	}
	log := issuer.log()
	for i, want := range []time.Duration{100, 200, 400, 400, 400} {
		gap := log[i+1].at.Sub(log[i].at)
		want *= time.Millisecond
		if gap < want*9/10 || gap > want+300*time.Millisecond {
			t.Errorf("gap %d: %v, want about %v", i, gap, want)
		}
	}
}

func TestFollowerTakesOnlyHTTPURLs(t *testing.T) {
	for _, u := range []string{"file:///etc/passwd", "ftp://x/y", "http://", "::"} {
		if _, err := NewRevocationFollower(u, newStore(FailClosed), 30); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
}

func TestFileWatcher(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revocations.sgl")
	store := newStore(FailClosed)
	w := NewFileWatcher(path, store)
	w.Logf = quiet
	w.Interval = 50 * time.Millisecond
	if _, changed := w.CheckOnce(); changed {
		t.Error("an absent file changed")
	}
	g := randomGUID()
	if err := os.WriteFile(path, makeList([]entry{{g, 1}}, 3, 0, testSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, changed := w.CheckOnce(); !changed || o.Kind != Installed || o.Sequence != 3 {
		t.Errorf("first: %+v", o)
	}
	if _, changed := w.CheckOnce(); changed {
		t.Error("an unchanged file was read again")
	}
	if err := os.WriteFile(path, makeList(nil, 2, 0, testSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(path, time.Unix(1, 0), time.Unix(1, 0))
	if o, changed := w.CheckOnce(); !changed || o.Err == nil || o.Err.Reason != Rollback {
		t.Errorf("rollback: %+v", o)
	}
	if store.Status(g, 0) != StatusDeactivated {
		t.Error("the refused file changed the list in force")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	if err := os.WriteFile(path, makeList(nil, 4, 0, testSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := waitUntil(3*time.Second, func() bool { c := store.Current(); return c != nil && c.Sequence == 4 })
	cancel()
	<-done
	if !ok || store.Status(g, 0) != NotRevoked {
		t.Error("the watcher did not install the new file")
	}
}
