package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Revocation list constants (FORMAT.md §4).
const (
	RevocationMagic           = "SGLR"
	RevocationContext         = "sigil/v1/revocations\x00"
	RevocationDefaultMaxBytes = 64 << 20
	revocationVersion         = 1
	entrySize                 = 17
	signatureSize             = 64
	// Lists with more entries are searched in their own bytes instead of a map, which costs
	// about 40 bytes per entry.
	DefaultIndexLimit = 1 << 18
)

// RevocationEntry is one listed GUID and its status (StatusDeactivated or StatusRevoked).
type RevocationEntry struct {
	GUID   GUID
	Status RevocationStatus
}

// RevocationList is a parsed, signature-checked v1 list. It is immutable and safe for
// concurrent use.
type RevocationList struct {
	KeyID      string
	Sequence   uint64
	IssuedAt   int64
	NextUpdate int64 // 0: no next update promised
	Count      int
	raw        []byte
	start      int
	index      map[GUID]RevocationStatus
}

func wireStatus(b byte) RevocationStatus {
	switch b {
	case 1:
		return StatusDeactivated
	case 2:
		return StatusRevoked
	}
	return NotRevoked
}

// Status returns StatusRevoked, StatusDeactivated or NotRevoked (not listed).
func (l *RevocationList) Status(guid GUID) RevocationStatus {
	if l.index != nil {
		return l.index[guid]
	}
	lo, hi := 0, l.Count
	for lo < hi { // entries are strictly ascending
		mid := int(uint(lo+hi) >> 1)
		at := l.start + entrySize*mid
		switch bytes.Compare(l.raw[at:at+16], guid[:]) {
		case 0:
			return wireStatus(l.raw[at+16])
		case -1:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return NotRevoked
}

// IsStale reports whether the list is past its next_update (a list without one never is).
func (l *RevocationList) IsStale(now int64) bool { return l.NextUpdate != 0 && now >= l.NextUpdate }

// Entries returns the listed GUIDs in list order (ascending).
func (l *RevocationList) Entries() []RevocationEntry {
	out := make([]RevocationEntry, l.Count)
	for i := range out {
		at := l.start + entrySize*i
		copy(out[i].GUID[:], l.raw[at:at+16])
		out[i].Status = wireStatus(l.raw[at+16])
	}
	return out
}

// Bytes returns the list exactly as signed (do not modify it).
func (l *RevocationList) Bytes() []byte { return l.raw }

// ParseRevocationList parses a v1 list and checks its Ed25519 signature under keys, in the
// order of FORMAT.md §4.2: too_large (beyond maxBytes; 0 means the 64 MiB default),
// malformed (magic), unsupported_version, malformed (header, exact length, entry order and
// statuses), unknown_key, bad_signature. Errors are *RevocationListError.
func ParseRevocationList(data []byte, keys map[string]ed25519.PublicKey, maxBytes int) (*RevocationList, error) {
	return parseRevocationList(data, keys, maxBytes, DefaultIndexLimit)
}

func parseRevocationList(data []byte, keys map[string]ed25519.PublicKey, maxBytes, indexLimit int) (*RevocationList, error) {
	return parseListMessage(data, nil, keys, maxBytes, indexLimit)
}

// parseListMessage checks the list data. When signed is not nil it is RevocationContext ||
// data, built by the caller (a delta's rebuilt list) and kept as the list's bytes; otherwise
// that message is copied from data once the layout checks pass.
func parseListMessage(data, signed []byte, keys map[string]ed25519.PublicKey, maxBytes, indexLimit int) (*RevocationList, error) {
	if maxBytes <= 0 {
		maxBytes = RevocationDefaultMaxBytes
	}
	b := data
	if len(b) > maxBytes {
		return nil, listError(TooLarge, "%d bytes, limit %d", len(b), maxBytes)
	}
	if len(b) < 6 || string(b[:4]) != RevocationMagic {
		return nil, listError(Malformed, "missing the SGLR magic")
	}
	if b[4] != revocationVersion {
		return nil, listError(UnsupportedVersion, "version %d", b[4])
	}
	n := int(b[5])
	i := 6
	if n < 1 || n > 32 || len(b) < i+n {
		return nil, listError(Malformed, "bad key id length")
	}
	kid := b[i : i+n]
	if !isKeyID(kid) {
		return nil, listError(Malformed, "bad key id")
	}
	i += n
	if len(b) < i+28 {
		return nil, listError(Malformed, "truncated header")
	}
	l := &RevocationList{
		KeyID:      string(kid),
		Sequence:   binary.BigEndian.Uint64(b[i:]),
		IssuedAt:   int64(binary.BigEndian.Uint64(b[i+8:])),
		NextUpdate: int64(binary.BigEndian.Uint64(b[i+16:])),
	}
	count := uint64(binary.BigEndian.Uint32(b[i+24:]))
	i += 28
	if uint64(len(b)) != uint64(i)+count*entrySize+signatureSize {
		return nil, listError(Malformed, "length %d does not match %d entries", len(b), count)
	}
	l.Count, l.start = int(count), i
	for at := i; at < i+entrySize*l.Count; at += entrySize {
		if s := b[at+16]; (s != 1 && s != 2) || (at > i && bytes.Compare(b[at-entrySize:at-1], b[at:at+16]) >= 0) {
			return nil, listError(Malformed, "entries must be strictly ascending GUIDs with status 1 or 2")
		}
	}
	key, ok := keys[l.KeyID]
	if !ok {
		return nil, listError(UnknownKey, "signed by key %s", l.KeyID)
	}
	// One copy serves twice: the signed message (context || list) and, after it, the list
	// the store keeps, which must not change if the caller reuses data.
	if signed == nil {
		signed = make([]byte, 0, len(RevocationContext)+len(b))
		signed = append(append(signed, RevocationContext...), b...)
	}
	body := len(signed) - signatureSize
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, signed[:body], signed[body:]) {
		return nil, listError(BadSignature, "key %s", l.KeyID)
	}
	l.raw = signed[len(RevocationContext):]
	if l.Count <= indexLimit {
		l.index = make(map[GUID]RevocationStatus, l.Count)
		for at := i; at < i+entrySize*l.Count; at += entrySize {
			var g GUID
			copy(g[:], l.raw[at:at+16])
			l.index[g] = wireStatus(l.raw[at+16])
		}
	}
	return l, nil
}

// Policy says what a RevocationStore does before its first list: FailOpen lets authentic
// tokens through, FailClosed refuses them with revocations_stale.
type Policy uint8

// No-list policies; there is no default, a service chooses one.
const (
	FailOpen Policy = iota + 1
	FailClosed
)

// OutcomeKind is what offering a list to a RevocationStore did.
type OutcomeKind uint8

// Outcome kinds.
const (
	Installed OutcomeKind = iota + 1
	Unchanged
	Refused
)

func (k OutcomeKind) String() string {
	switch k {
	case Installed:
		return "installed"
	case Unchanged:
		return "unchanged"
	case Refused:
		return "refused"
	}
	return "invalid"
}

// Outcome is what offering a list or a delta did. Sequence is the offered list's (for a
// delta, the resulting list's; 0 if it could not be read); Err is set when it was refused;
// Delta is true when the offered bytes were a delta (FORMAT.md §4.3).
type Outcome struct {
	Kind     OutcomeKind
	Sequence uint64
	Err      *RevocationListError
	Delta    bool
}

// StoreOption configures a RevocationStore.
type StoreOption func(*RevocationStore)

// StaleFailsClosed makes a list past its next_update refuse every token with
// revocations_stale until a fresher one is loaded. Without it a stale list keeps being
// served (FORMAT.md §4.2's default) and IsStale reports it.
func StaleFailsClosed() StoreOption { return func(s *RevocationStore) { s.staleFailsClosed = true } }

// MaxListBytes sets the largest list accepted (default 64 MiB).
func MaxListBytes(n int) StoreOption { return func(s *RevocationStore) { s.maxBytes = n } }

// OnOutcome calls fn after every offer (from Load, LoadFile, Offer, a follower or a file
// watcher), outside the store's lock. fn must not block for long.
func OnOutcome(fn func(Outcome)) StoreOption { return func(s *RevocationStore) { s.onOutcome = fn } }

// IndexLimit sets how many entries a list may have and still be indexed in a map.
func IndexLimit(n int) StoreOption { return func(s *RevocationStore) { s.indexLimit = n } }

// RevocationStore is the list in force for a service, swapped atomically while verifiers
// read it. A list is parsed and its signature checked before the lock is taken; the lock
// serialises installs only (the rollback and equivocation checks and the swap are one
// step). A delta (FORMAT.md §4.3) is parsed before the lock and applied to the list in force
// under it, so the base it was checked against is the list it replaces. Readers load one
// pointer and never lock, so they see the old list or the new one, never a mix. A refused
// list or delta changes nothing.
type RevocationStore struct {
	keys             map[string]ed25519.PublicKey
	whenNoList       Policy
	staleFailsClosed bool
	maxBytes         int
	indexLimit       int
	onOutcome        func(Outcome)
	current          atomic.Pointer[RevocationList]
	install          sync.Mutex
}

// NewRevocationStore returns an empty store that accepts lists signed by keys; whenNoList
// (FailOpen or FailClosed) is what verifiers get before the first list. It panics on any
// other policy value: a store without an explicit choice is a programming error.
//
//	store := verify.NewRevocationStore(keyset.RevocationKeys, verify.FailClosed, verify.StaleFailsClosed())
func NewRevocationStore(keys map[string]ed25519.PublicKey, whenNoList Policy, opts ...StoreOption) *RevocationStore {
	if whenNoList != FailOpen && whenNoList != FailClosed {
		panic("sigil: NewRevocationStore needs FailOpen or FailClosed")
	}
	s := &RevocationStore{keys: map[string]ed25519.PublicKey{}, whenNoList: whenNoList, maxBytes: RevocationDefaultMaxBytes, indexLimit: DefaultIndexLimit}
	for kid, key := range keys {
		s.keys[kid] = key
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.maxBytes <= 0 {
		s.maxBytes = RevocationDefaultMaxBytes
	}
	return s
}

// MaxBytes is the largest list the store accepts.
func (s *RevocationStore) MaxBytes() int { return s.maxBytes }

// Current returns the list in force, or nil before the first one.
func (s *RevocationStore) Current() *RevocationList { return s.current.Load() }

// Load verifies data, a full list or a delta (FORMAT.md §4.3, applied to the list in
// force), and installs the list it makes if that is newer; it returns the list in force. On
// a *RevocationListError (for a delta also delta_base_mismatch) the previous list stays in
// force.
func (s *RevocationStore) Load(data []byte) (*RevocationList, error) {
	o := s.Offer(data)
	if o.Err != nil {
		return nil, o.Err
	}
	return s.current.Load(), nil
}

// LoadFile reads at most MaxBytes()+1 bytes of path, without following a symbolic link in
// its last component, and loads them like Load, a list or a delta (reason io if it cannot
// be read).
func (s *RevocationStore) LoadFile(path string) (*RevocationList, error) {
	data, err := readListFile(path, s.maxBytes)
	if err != nil {
		s.tell(Outcome{Kind: Refused, Err: err})
		return nil, err
	}
	return s.Load(data)
}

func readListFile(path string, maxBytes int) ([]byte, *RevocationListError) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, listError(IO, "cannot read the list: %v", unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return nil, listError(IO, "cannot read the list: %v", unwrapPath(err))
	}
	return data, nil
}

// Offer runs the checks of RevocationListUpdate, then the swap; it never panics or returns
// an error for a bad list: the Outcome says what happened. data may be a full list (SGLR)
// or a delta (SGLD), which is applied to the list in force under the install lock and then
// checked like a full list (FORMAT.md §4.3).
func (s *RevocationStore) Offer(data []byte) Outcome {
	if IsRevocationDelta(data) {
		return s.offerDelta(data)
	}
	candidate, err := parseRevocationList(data, s.keys, s.maxBytes, s.indexLimit)
	if err != nil {
		return s.tell(Outcome{Kind: Refused, Err: err.(*RevocationListError)})
	}
	s.install.Lock()
	o := s.swapLocked(candidate)
	s.install.Unlock()
	return s.tell(o)
}

func (s *RevocationStore) offerDelta(data []byte) Outcome {
	d, err := parseRevocationDelta(data, s.maxBytes)
	if err != nil {
		return s.tell(Outcome{Kind: Refused, Err: err, Delta: true})
	}
	var o Outcome
	s.install.Lock()
	if candidate, err := d.apply(s.current.Load(), s.keys, s.maxBytes, s.indexLimit); err != nil {
		o = Outcome{Kind: Refused, Sequence: d.Sequence, Err: err}
	} else {
		o = s.swapLocked(candidate)
	}
	s.install.Unlock()
	o.Delta = true
	return s.tell(o)
}

// swapLocked refuses a rollback or an equivocation, or installs candidate; s.install is held.
func (s *RevocationStore) swapLocked(candidate *RevocationList) Outcome {
	cur := s.current.Load()
	switch {
	case cur != nil && candidate.Sequence < cur.Sequence:
		return Outcome{Kind: Refused, Sequence: candidate.Sequence, Err: listError(Rollback, "sequence %d < %d in force", candidate.Sequence, cur.Sequence)}
	case cur != nil && candidate.Sequence == cur.Sequence:
		if bytes.Equal(candidate.raw, cur.raw) {
			return Outcome{Kind: Unchanged, Sequence: candidate.Sequence}
		}
		return Outcome{Kind: Refused, Sequence: candidate.Sequence, Err: listError(Equivocation, "sequence %d", candidate.Sequence)}
	}
	s.current.Store(candidate)
	return Outcome{Kind: Installed, Sequence: candidate.Sequence}
}

func (s *RevocationStore) tell(o Outcome) Outcome {
	if s.onOutcome != nil {
		s.onOutcome(o)
	}
	return o
}

// IsStale reports whether the list in force is past its next_update (false before the first list).
func (s *RevocationStore) IsStale(now time.Time) bool {
	cur := s.current.Load()
	return cur != nil && cur.IsStale(now.Unix())
}

// Status implements RevocationSource with the store's policies.
func (s *RevocationStore) Status(guid GUID, now int64) RevocationStatus {
	cur := s.current.Load() // one load: a concurrent swap cannot mix two lists
	if cur == nil {
		if s.whenNoList == FailClosed {
			return StatusStale
		}
		return NotRevoked
	}
	if s.staleFailsClosed && cur.IsStale(now) {
		return StatusStale
	}
	return cur.Status(guid)
}

// unwrapPath drops the path from an *os.PathError: the caller knows which file it named.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
