// Command sigil-conformance is the Go conformance runner (issue #23 item 3): JSON Lines
// cases on stdin, one JSON answer per case on stdout, in order.
//
//	case:   {"keyset": {...}, "revocations": "<base64>" | null, "token": "...", "audience": "...",
//	         "permission": "resource.action" | null, "access": "read" | "write" | null,
//	         "now": <int>, "leeway": <int>, "when_no_list": "fail_open" | "fail_closed"}
//	answer: {"valid": true, "guid": "..."} | {"valid": false, "reason": "..."}
//	        | {"valid": false, "list_error": "..."} | {"error": "..."} (a case that cannot be run)
//
// Missing or null members take the reference runner's defaults (interop/python): the
// keyset's audience, no list, no permission, leeway 60, the current time, fail_open.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"sigil.dev/verify"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString("sigil-conformance: " + err.Error() + "\n")
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			out.Write(answer(line))
			out.WriteByte('\n')
		}
		// Flush whenever the input runs dry, so a driver that waits for each answer is served.
		if in.Buffered() == 0 || err != nil {
			if ferr := out.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func answer(line []byte) []byte {
	var c map[string]json.RawMessage
	if !isKind(line, '{') || json.Unmarshal(line, &c) != nil {
		return failure(errors.New("the case is not a JSON object"))
	}
	raw, ok := c["keyset"]
	if !ok {
		return failure(errors.New("the case has no keyset"))
	}
	keyset, err := verify.ParseKeyset(raw)
	if err != nil {
		return failure(err)
	}
	audience := keyset.Audience
	if s, ok := str(c["audience"]); ok {
		audience = s
	}
	policy := verify.FailOpen
	if s, _ := str(c["when_no_list"]); s == "fail_closed" {
		policy = verify.FailClosed
	}
	store := verify.NewRevocationStore(keyset.RevocationKeys, policy)
	if s, ok := str(c["revocations"]); ok {
		data, ok := listBytes(s)
		if !ok {
			return []byte(`{"valid":false,"list_error":"malformed"}`)
		}
		if _, err := store.Load(data); err != nil {
			return []byte(`{"valid":false,"list_error":"` + string(verify.ReasonOf(err)) + `"}`)
		}
	}
	leeway := verify.DefaultLeeway
	if _, isBool := boolean(c["leeway"]); isBool { // Python's runner refuses a boolean leeway
		return failure(errors.New("leeway must be 0..86400 seconds"))
	}
	if n, isInt, err := integer(c["leeway"]); err != nil {
		return failure(errors.New("leeway must be 0..86400 seconds"))
	} else if isInt {
		if n < 0 || n > verify.MaxLeeway {
			return failure(errors.New("leeway must be 0..86400 seconds"))
		}
		leeway = int(n)
	}
	verifier, err := verify.NewVerifier(audience, keyset.TokenKeys, leeway, store)
	if err != nil {
		return failure(err)
	}
	var permission verify.Permission
	if name, ok := str(c["permission"]); ok {
		access := verify.Read
		if s, _ := str(c["access"]); s == "write" {
			access = verify.Write
		}
		if permission, err = verify.NewPermission(name, access); err != nil {
			return failure(err)
		}
	}
	now := time.Now().Unix()
	if n, isInt, err := integer(c["now"]); err != nil {
		// Python compares exact integers; past the int64 range the clamped value gives the
		// same answers except for a valid_to within the leeway of the limit.
		now = math.MaxInt64
		if bytes.HasPrefix(bytes.TrimSpace(c["now"]), []byte("-")) {
			now = math.MinInt64
		}
	} else if isInt {
		now = n
	} else if b, ok := boolean(c["now"]); ok && b { // Python's True is the integer 1
		now = 1
	} else if ok {
		now = 0
	}
	token, _ := str(c["token"])
	claims, err := verifier.CheckAt(token, permission, now)
	if err != nil {
		return []byte(`{"valid":false,"reason":"` + string(verify.ReasonOf(err)) + `"}`)
	}
	return []byte(`{"valid":true,"guid":"` + claims.GUID.String() + `"}`)
}

func failure(err error) []byte {
	msg, _ := json.Marshal(err.Error())
	return append(append([]byte(`{"error":`), msg...), '}')
}

// listBytes decodes standard base64, or base64url with or without padding.
func listBytes(text string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if data, err := enc.DecodeString(text); err == nil {
			return data, true
		}
	}
	return nil, false
}

func isKind(raw []byte, open byte) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == open
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if !isKind(raw, '"') || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func boolean(raw json.RawMessage) (bool, bool) {
	t := string(bytes.TrimSpace(raw))
	return t == "true", t == "true" || t == "false"
}

// integer reads a JSON integer literal (what Python's json gives an int: no fraction, no
// exponent). isInt is false for anything else, a boolean included; err is set for an
// integer outside int64.
func integer(raw json.RawMessage) (n int64, isInt bool, err error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || !(t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
		return 0, false, nil
	}
	if bytes.ContainsAny(t, ".eE") {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(string(t), 10, 64)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}
