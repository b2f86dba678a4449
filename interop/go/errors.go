package verify

import (
	"errors"
	"fmt"
)

// Reason is a stable refusal code: the token reasons of FORMAT.md §3 and the list and
// delta reasons of §4.2 and §4.3. Codes may be added later, so a switch over them needs a
// default case.
type Reason string

// Token reasons, in the order the verifier checks them (FORMAT.md §3).
const (
	Malformed        Reason = "malformed"
	WrongAudience    Reason = "wrong_audience"
	UnknownKey       Reason = "unknown_key"
	BadSignature     Reason = "bad_signature"
	RevocationsStale Reason = "revocations_stale"
	Revoked          Reason = "revoked"
	Deactivated      Reason = "deactivated"
	NotYetValid      Reason = "not_yet_valid"
	Expired          Reason = "expired"
	ScopeNotGranted  Reason = "scope_not_granted"
)

// List reasons (FORMAT.md §4.2; Malformed, UnknownKey and BadSignature are shared), the
// delta reason of §4.3, plus IO for a list file that cannot be read.
const (
	TooLarge           Reason = "too_large"
	UnsupportedVersion Reason = "unsupported_version"
	Rollback           Reason = "rollback"
	Equivocation       Reason = "equivocation"
	DeltaBaseMismatch  Reason = "delta_base_mismatch" // a delta for another list than the one in force
	IO                 Reason = "io"
)

// VerificationError is a refused token. Its text never contains the token or a key.
type VerificationError struct {
	Reason Reason
	Detail string // safe to log: a key ID, a permission name, a length
}

func (e *VerificationError) Error() string {
	if e.Detail == "" {
		return "sigil: token refused: " + string(e.Reason)
	}
	return "sigil: token refused: " + string(e.Reason) + " (" + e.Detail + ")"
}

// RevocationListError is a refused revocation list; the list in force, if any, stays.
type RevocationListError struct {
	Reason Reason
	Detail string
}

func (e *RevocationListError) Error() string {
	if e.Detail == "" {
		return "sigil: revocation list refused: " + string(e.Reason)
	}
	return "sigil: revocation list refused: " + string(e.Reason) + " (" + e.Detail + ")"
}

// KeysetError is a keyset or verifier configuration that cannot be used. It names the
// field at fault, never its value.
type KeysetError struct{ Detail string }

func (e *KeysetError) Error() string { return "sigil: keyset: " + e.Detail }

// ReasonOf returns the reason code of a *VerificationError or *RevocationListError in err's
// chain, or "" for any other error (and for nil).
func ReasonOf(err error) Reason {
	var v *VerificationError
	if errors.As(err, &v) {
		return v.Reason
	}
	var l *RevocationListError
	if errors.As(err, &l) {
		return l.Reason
	}
	return ""
}

// Preallocated refusals: the hot path returns these instead of allocating a new error.
var (
	errMalformed     = &VerificationError{Reason: Malformed}
	errWrongAudience = &VerificationError{Reason: WrongAudience}
	errStale         = &VerificationError{Reason: RevocationsStale}
	errRevoked       = &VerificationError{Reason: Revoked}
	errDeactivated   = &VerificationError{Reason: Deactivated}
	errNotYetValid   = &VerificationError{Reason: NotYetValid}
	errExpired       = &VerificationError{Reason: Expired}
)

func listError(reason Reason, format string, args ...any) *RevocationListError {
	return &RevocationListError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
