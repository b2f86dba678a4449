package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
)

// Revocation delta constants (FORMAT.md §4.3) and the media types sigil-server answers
// GET /v1/revocations with.
const (
	RevocationDeltaMagic     = "SGLD"
	RevocationsMediaType     = "application/vnd.sigil.revocations"
	RevocationDeltaMediaType = "application/vnd.sigil.revocation-delta"
	deltaVersion             = 1
)

// DeltaChange is one change of a delta: the GUID's status in the resulting list, or
// NotRevoked when it leaves the list (wire status 0).
type DeltaChange struct {
	GUID   GUID
	Status RevocationStatus
}

// RevocationDelta is a parsed v1 delta: the changes that turn the signed list BaseSequence
// into the signed list Sequence. It has no signature of its own; it carries the resulting
// list's, so nothing in it is trusted until Apply rebuilt that list and verified it.
type RevocationDelta struct {
	KeyID        string // the resulting list's key ID
	BaseSequence uint64 // the sequence of the list the changes apply to
	Sequence     uint64 // the resulting list's sequence, issued_at, next_update and count
	IssuedAt     int64
	NextUpdate   int64 // 0: no next update promised
	Count        uint32
	Changes      []DeltaChange // strictly ascending by GUID
	signature    []byte
}

// IsRevocationDelta reports whether data starts like a delta (SGLD) rather than a full
// list (SGLR).
func IsRevocationDelta(data []byte) bool {
	return len(data) >= 4 && string(data[:4]) == RevocationDeltaMagic
}

// ParseRevocationDelta parses a delta's structure, rules 1-4 of FORMAT.md §4.3 in order:
// too_large (beyond maxBytes; 0 means the 64 MiB default), malformed (magic),
// unsupported_version, malformed (key ID, header, exact length, change statuses and order).
// Errors are *RevocationListError.
func ParseRevocationDelta(data []byte, maxBytes int) (*RevocationDelta, error) {
	d, err := parseRevocationDelta(data, maxBytes)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func parseRevocationDelta(b []byte, maxBytes int) (*RevocationDelta, *RevocationListError) {
	if maxBytes <= 0 {
		maxBytes = RevocationDefaultMaxBytes
	}
	if len(b) > maxBytes {
		return nil, listError(TooLarge, "%d bytes, limit %d", len(b), maxBytes)
	}
	if len(b) < 6 || string(b[:4]) != RevocationDeltaMagic {
		return nil, listError(Malformed, "missing the SGLD magic")
	}
	if b[4] != deltaVersion {
		return nil, listError(UnsupportedVersion, "delta version %d", b[4])
	}
	n := int(b[5])
	i := 6
	if n < 1 || n > 32 || len(b) < i+n || !isKeyID(b[i:i+n]) {
		return nil, listError(Malformed, "bad key id")
	}
	d := &RevocationDelta{KeyID: string(b[i : i+n])}
	i += n
	if len(b) < i+40 {
		return nil, listError(Malformed, "truncated delta header")
	}
	d.BaseSequence = binary.BigEndian.Uint64(b[i:])
	d.Sequence = binary.BigEndian.Uint64(b[i+8:])
	d.IssuedAt = int64(binary.BigEndian.Uint64(b[i+16:]))
	d.NextUpdate = int64(binary.BigEndian.Uint64(b[i+24:]))
	d.Count = binary.BigEndian.Uint32(b[i+32:])
	changes := uint64(binary.BigEndian.Uint32(b[i+36:]))
	i += 40
	if uint64(len(b)) != uint64(i)+changes*entrySize+signatureSize {
		return nil, listError(Malformed, "length %d does not match %d changes", len(b), changes)
	}
	d.Changes = make([]DeltaChange, 0, changes)
	for at := i; at < len(b)-signatureSize; at += entrySize {
		if b[at+16] > 2 {
			return nil, listError(Malformed, "a change's status must be 0, 1 or 2")
		}
		if at > i && bytes.Compare(b[at-entrySize:at-1], b[at:at+16]) >= 0 {
			return nil, listError(Malformed, "changes must be strictly ascending GUIDs")
		}
		var c DeltaChange
		copy(c.GUID[:], b[at:at+16])
		c.Status = wireStatus(b[at+16])
		d.Changes = append(d.Changes, c)
	}
	d.signature = append([]byte(nil), b[len(b)-signatureSize:]...)
	return d, nil
}

// Apply applies the delta to base, the list in force, and verifies the resulting list as a
// full list under keys: rules 5-9 of FORMAT.md §4.3 in order. delta_base_mismatch (base is
// nil or its sequence is not BaseSequence), too_large (the resulting list is beyond maxBytes;
// 0 means the 64 MiB default), malformed (a change that changes nothing, or the result does
// not hold Count entries), unknown_key, bad_signature. Rollback and equivocation are the
// store's checks, as for a full list. Errors are *RevocationListError; base is not changed.
func (d *RevocationDelta) Apply(base *RevocationList, keys map[string]ed25519.PublicKey, maxBytes int) (*RevocationList, error) {
	l, err := d.apply(base, keys, maxBytes, DefaultIndexLimit)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func wireByte(s RevocationStatus) byte {
	switch s {
	case StatusDeactivated:
		return 1
	case StatusRevoked:
		return 2
	}
	return 0
}

func (d *RevocationDelta) apply(base *RevocationList, keys map[string]ed25519.PublicKey, maxBytes, indexLimit int) (*RevocationList, *RevocationListError) {
	if maxBytes <= 0 {
		maxBytes = RevocationDefaultMaxBytes
	}
	if base == nil {
		return nil, listError(DeltaBaseMismatch, "the delta applies to list %d, and no list is in force", d.BaseSequence)
	}
	if base.Sequence != d.BaseSequence {
		return nil, listError(DeltaBaseMismatch, "the delta applies to list %d, the list in force is %d", d.BaseSequence, base.Sequence)
	}
	header := 34 + len(d.KeyID)
	entryBytes := uint64(d.Count) * entrySize
	size := uint64(header) + entryBytes + signatureSize
	if size > uint64(maxBytes) {
		return nil, listError(TooLarge, "the resulting list of %d entries exceeds %d bytes", d.Count, maxBytes)
	}
	out := make([]byte, 0, len(RevocationContext)+int(size))
	out = append(out, RevocationContext...)
	out = append(out, RevocationMagic...)
	out = append(out, revocationVersion, byte(len(d.KeyID)))
	out = append(out, d.KeyID...)
	out = binary.BigEndian.AppendUint64(out, d.Sequence)
	out = binary.BigEndian.AppendUint64(out, uint64(d.IssuedAt))
	out = binary.BigEndian.AppendUint64(out, uint64(d.NextUpdate))
	out = binary.BigEndian.AppendUint32(out, d.Count)
	entriesStart := len(out)

	// One merge walk: each change finds its place by binary search from the last one, and the
	// base entries between two changes are copied as one run.
	entries := base.raw[base.start : base.start+entrySize*base.Count]
	total, next := base.Count, 0
	for _, c := range d.Changes {
		lo, hi := next, total
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if bytes.Compare(entries[entrySize*mid:entrySize*mid+16], c.GUID[:]) < 0 {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		out = append(out, entries[entrySize*next:entrySize*lo]...)
		next = lo
		listed := lo < total && bytes.Equal(entries[entrySize*lo:entrySize*lo+16], c.GUID[:])
		current, wire := byte(0), wireByte(c.Status)
		if listed {
			current = entries[entrySize*lo+16]
			next = lo + 1
		}
		if current == wire {
			if wire == 0 {
				return nil, listError(Malformed, "a change removes a GUID the base list does not hold")
			}
			return nil, listError(Malformed, "a change sets the status a GUID already has")
		}
		if wire != 0 {
			out = append(append(out, c.GUID[:]...), wire)
		}
	}
	out = append(out, entries[entrySize*next:]...)
	if got := uint64(len(out) - entriesStart); got != entryBytes {
		return nil, listError(Malformed, "the changes leave %d entries, the delta says %d", got/entrySize, d.Count)
	}
	out = append(out, d.signature...)
	l, err := parseListMessage(out[len(RevocationContext):], out, keys, maxBytes, indexLimit)
	if err != nil {
		return nil, err.(*RevocationListError)
	}
	return l, nil
}
