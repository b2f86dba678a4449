package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Backoff bounds after a failed poll: from MinBackoff, doubling to MaxBackoff.
const (
	MinBackoff = time.Second
	MaxBackoff = 30 * time.Second
)

// PollResult is what one poll of the revocations endpoint did.
type PollResult uint8

// Poll results. PollFailed comes with an error saying why.
const (
	PollCurrent     PollResult = iota + 1 // a list was installed, or the same list again
	PollNotModified                       // 304: the list in force is still the newest
	PollFailed
)

func (r PollResult) String() string {
	switch r {
	case PollCurrent:
		return "current"
	case PollNotModified:
		return "not_modified"
	case PollFailed:
		return "failed"
	}
	return "invalid"
}

// RevocationFollower keeps a RevocationStore current from sigil-server's
// `GET /v1/revocations`: a long poll with `?wait=` and `If-None-Match` (docs/API.md).
//
// While a list is in force it asks with `?since=<its sequence>`, so the server may answer a
// delta (FORMAT.md §4.3: a few bytes per change instead of the whole list); the store
// applies it to the list in force and checks the list it makes like a full one. A refused
// delta (delta_base_mismatch or any other reason) makes the next request leave `since` out,
// so the server answers the whole list and the list in force becomes current again.
//
// Every list goes through RevocationStore.Offer, the checks of RevocationListUpdate (size,
// format, a known key and its signature, no rollback, no equivocation); a refused list is
// logged, the list in force stays and the ETag does not move. Each request is bounded in
// size (the store's MaxBytes, checked against Content-Length and while the body arrives)
// and in time (Wait + Slack); failures back off from MinBackoff, doubling to MaxBackoff.
// Logs carry sequences, reason codes and the server's host only.
//
//	follower, err := verify.NewRevocationFollower("https://issuer.example/v1/revocations", store, 30)
//	go follower.Run(ctx)
type RevocationFollower struct {
	// Set these before Run; they are read without a lock.
	Client     *http.Client // nil: a client with the default transport and no overall timeout
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Slack      time.Duration                    // how long a request may take beyond the wait
	Logf       func(format string, args ...any) // nil: log.Printf

	url   string
	host  string
	store *RevocationStore
	wait  int

	mu       sync.Mutex
	etag     string
	wholeNow bool // a delta was refused: ask without since until a poll succeeds
}

// NewRevocationFollower follows rawURL (http or https) into store. wait is the seconds the
// server may hold each poll, clamped to 1-60.
func NewRevocationFollower(rawURL string, store *RevocationStore, wait int) (*RevocationFollower, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("sigil: the revocations URL must be http or https")
	}
	if wait < 1 {
		wait = 1
	}
	if wait > 60 {
		wait = 60
	}
	return &RevocationFollower{
		MinBackoff: MinBackoff, MaxBackoff: MaxBackoff, Slack: 15 * time.Second,
		url: rawURL, host: u.Hostname(), store: store, wait: wait,
	}, nil
}

// ETag is the ETag of the last list accepted ("" before one).
func (f *RevocationFollower) ETag() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.etag
}

func (f *RevocationFollower) logf(format string, args ...any) {
	if f.Logf != nil {
		f.Logf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// PollOnce makes one request. It returns PollCurrent (a list or a delta installed, or the
// same list again), PollNotModified, or PollFailed with the reason (an HTTP status, a
// refused list or delta, a network error, a body too large or too slow).
func (f *RevocationFollower) PollOnce(ctx context.Context) (PollResult, error) {
	status, data, etag, err := f.request(ctx)
	if err != nil {
		return PollFailed, err
	}
	if status == http.StatusNotModified {
		f.mu.Lock()
		f.wholeNow = false
		f.mu.Unlock()
		return PollNotModified, nil
	}
	if status != http.StatusOK {
		return PollFailed, fmt.Errorf("sigil: revocations: HTTP %d", status)
	}
	o := f.store.Offer(data)
	if o.Kind == Refused {
		if o.Delta {
			f.mu.Lock()
			f.wholeNow = true
			f.mu.Unlock()
			f.logf("sigil: revocation delta refused (the list in force stays; the whole list is asked for next): reason=%s %s", o.Err.Reason, o.Err.Detail)
		} else {
			f.logf("sigil: revocations refused (the list in force stays): reason=%s %s", o.Err.Reason, o.Err.Detail)
		}
		return PollFailed, o.Err
	}
	if o.Kind == Installed && o.Delta {
		f.logf("sigil: revocations installed from a delta: sequence=%d", o.Sequence)
	} else if o.Kind == Installed {
		f.logf("sigil: revocations installed: sequence=%d", o.Sequence)
	}
	f.mu.Lock()
	f.etag, f.wholeNow = etag, false
	f.mu.Unlock()
	return PollCurrent, nil
}

func (f *RevocationFollower) request(ctx context.Context) (int, []byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.wait)*time.Second+f.Slack)
	defer cancel()
	sep := "?"
	if strings.Contains(f.url, "?") {
		sep = "&"
	}
	f.mu.Lock()
	etag, whole := f.etag, f.wholeNow
	f.mu.Unlock()
	query := "wait=" + strconv.Itoa(f.wait)
	if cur := f.store.Current(); cur != nil && !whole {
		query = "since=" + strconv.FormatUint(cur.Sequence, 10) + "&" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+sep+query, nil)
	if err != nil {
		return 0, nil, "", err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	req.Header.Set("Accept", RevocationsMediaType+", "+RevocationDeltaMediaType)
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL; the logs name the host only.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return 0, nil, "", fmt.Errorf("sigil: revocations fetch failed (host %s): %w", f.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, "", nil
	}
	limit := f.store.MaxBytes()
	if resp.ContentLength > int64(limit) {
		return 0, nil, "", listError(TooLarge, "the server declares %d bytes, limit %d", resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return 0, nil, "", fmt.Errorf("sigil: revocations fetch failed (host %s): %w", f.host, err)
	}
	if len(data) > limit {
		return 0, nil, "", listError(TooLarge, "the body goes past %d bytes", limit)
	}
	return http.StatusOK, data, resp.Header.Get("ETag"), nil
}

// Run polls until ctx is done and returns ctx.Err(). After a success the next poll starts
// at once (the server holds it up to wait seconds), but at most once a second; after a
// failure it waits the backoff.
func (f *RevocationFollower) Run(ctx context.Context) error {
	f.logf("sigil: following revocations: host=%s wait=%d", f.host, f.wait)
	backoff := f.MinBackoff
	for ctx.Err() == nil {
		started := time.Now()
		result, err := f.PollOnce(ctx)
		pause := time.Second - time.Since(started)
		if result == PollFailed {
			if ctx.Err() != nil {
				break
			}
			f.logf("sigil: revocations: %v; retrying in %v (host=%s)", err, backoff, f.host)
			pause = backoff
			backoff *= 2
			if backoff > f.MaxBackoff {
				backoff = f.MaxBackoff
			}
		} else {
			backoff = f.MinBackoff
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
	return ctx.Err()
}

// FileWatcher offers a list file to a RevocationStore whenever it changes (one lstat per
// Interval). The file is opened without following a symbolic link in its last component
// and read up to the store's MaxBytes + 1.
//
//	go verify.NewFileWatcher("/etc/billing/revocations.sgl", store).Run(ctx)
type FileWatcher struct {
	Interval time.Duration                    // default 1 s; set before Run
	Logf     func(format string, args ...any) // nil: log.Printf

	path  string
	store *RevocationStore
	last  os.FileInfo
}

// NewFileWatcher watches path for store.
func NewFileWatcher(path string, store *RevocationStore) *FileWatcher {
	return &FileWatcher{Interval: time.Second, path: path, store: store}
}

// CheckOnce offers the file if it changed since the last look (its identity, size or
// modification time). changed is false when it did not, or when the file is absent.
// Not safe to call concurrently with itself or Run.
func (w *FileWatcher) CheckOnce() (o Outcome, changed bool) {
	st, err := os.Lstat(w.path)
	if err != nil {
		return Outcome{}, false
	}
	if w.last != nil && os.SameFile(w.last, st) && w.last.Size() == st.Size() && w.last.ModTime().Equal(st.ModTime()) {
		return Outcome{}, false
	}
	w.last = st
	data, lerr := readListFile(w.path, w.store.MaxBytes())
	if lerr != nil {
		w.logf("sigil: revocations refused (the list in force stays): reason=%s %s", lerr.Reason, lerr.Detail)
		return w.store.tell(Outcome{Kind: Refused, Err: lerr}), true
	}
	o = w.store.Offer(data)
	switch o.Kind {
	case Installed:
		w.logf("sigil: revocations installed: sequence=%d", o.Sequence)
	case Refused:
		w.logf("sigil: revocations refused (the list in force stays): reason=%s %s", o.Err.Reason, o.Err.Detail)
	}
	return o, true
}

func (w *FileWatcher) logf(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Run checks the file every Interval until ctx is done and returns ctx.Err().
func (w *FileWatcher) Run(ctx context.Context) error {
	interval := w.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.CheckOnce()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
