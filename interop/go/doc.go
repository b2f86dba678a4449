// Package verify verifies Sigil v1 API tokens and signed revocation lists offline, exactly
// as docs/FORMAT.md specifies, with the Go standard library only (crypto/hmac,
// crypto/sha256, crypto/ed25519, encoding/json, net/http).
//
//	keyset, err := verify.ReadKeyset("keyset.json") // sigil keys export --audience billing
//	store := verify.NewRevocationStore(keyset.RevocationKeys, verify.FailClosed)
//	follower, err := verify.NewRevocationFollower("https://issuer.example/v1/revocations", store, 30)
//	go follower.Run(ctx)
//	verifier := keyset.NewVerifier(store)
//	claims, err := verifier.Check(token, verify.ReadPermission("devices.list"))
//	// err: *VerificationError; verify.ReasonOf(err) is "malformed", ..., "scope_not_granted"
//
// The checks run in the order of FORMAT.md §3 and refuse with its reason codes; the MAC is
// compared in constant time and checked before anything in the token is trusted. A
// Verifier is immutable and safe for concurrent use; a valid verify allocates at most once
// (a custom scope). A RevocationStore swaps lists atomically, refuses rollback and
// equivocation, and makes both policies explicit: what to do before the first list
// (FailOpen or FailClosed) and whether a stale list refuses tokens (StaleFailsClosed). It
// also takes revocation deltas (FORMAT.md §4.3), which a RevocationFollower asks for with
// ?since=, and rebuilds the signed list each one makes.
// Middleware wraps an http.Handler and answers refusals like SigilHummingbird.
package verify
