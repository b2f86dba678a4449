// Command sigil-bench prints one JSON line: ns per verify of a valid token (custom scope,
// permission checked) with a list of 10,000 revoked GUIDs in force, ns per bare
// HMAC-SHA256 over the same body bytes (hmac.New, Write, Sum: the one-shot a Go program
// writes), and their ratio.
//
//	sigil-bench [--seconds S]
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"sort"
	"time"

	"sigil.dev/verify"
)

// sink keeps the compiler from dropping the measured calls.
var sink int

// measure returns ns per call: the best of 5 rounds, each about seconds/5 long.
func measure(fn func(), seconds float64) float64 {
	n := 1000
	var took time.Duration
	for { // calibrate
		start := time.Now()
		for i := 0; i < n; i++ {
			fn()
		}
		took = time.Since(start)
		if took > 20*time.Millisecond {
			break
		}
		n *= 2
	}
	perRound := int(math.Max(1, float64(n)*(seconds/5)/took.Seconds()))
	best := math.Inf(1)
	for r := 0; r < 5; r++ {
		start := time.Now()
		for i := 0; i < perRound; i++ {
			fn()
		}
		best = math.Min(best, float64(time.Since(start).Nanoseconds())/float64(perRound))
	}
	return best
}

func main() {
	seconds := flag.Float64("seconds", 2, "time per measurement")
	flag.Parse()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(32 + i)
	}
	guids := make([][16]byte, 10000)
	for i := range guids {
		if _, err := rand.Read(guids[i][:]); err != nil {
			log.Fatal(err)
		}
	}
	sort.Slice(guids, func(i, j int) bool { return string(guids[i][:]) < string(guids[j][:]) })
	now := time.Now().Unix()
	list := []byte("SGLR\x01\x02r1")
	list = binary.BigEndian.AppendUint64(list, 1)
	list = binary.BigEndian.AppendUint64(list, uint64(now))
	list = binary.BigEndian.AppendUint64(list, 0)
	list = binary.BigEndian.AppendUint32(list, uint32(len(guids)))
	for _, g := range guids {
		list = append(append(list, g[:]...), 2)
	}
	private := ed25519.NewKeyFromSeed(seed)
	list = append(list, ed25519.Sign(private, append([]byte(verify.RevocationContext), list...))...)
	public := private.Public().(ed25519.PublicKey)
	store := verify.NewRevocationStore(map[string]ed25519.PublicKey{"r1": public}, verify.FailClosed)
	if l, err := store.Load(list); err != nil || l.Count != 10000 {
		log.Fatalf("the list: %v", err)
	}

	guid, _ := verify.ParseGUID("0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90")
	claims := verify.Claims{KeyID: "k1", Audience: "billing", GUID: guid, ValidFrom: now - 3600, ValidTo: now + 86400,
		Scope: verify.CustomScope("devices.list", "invoices.read")}
	token := verify.Mint(claims, key)
	verifier, err := verify.NewVerifier("billing", map[string][]byte{"k1": key}, verify.DefaultLeeway, store)
	if err != nil {
		log.Fatal(err)
	}
	permission := verify.ReadPermission("devices.list")
	if c, err := verifier.Check(token, permission); err != nil || c.GUID != guid {
		log.Fatalf("the token: %v", err)
	}
	body := verify.EncodeBody(claims)

	verifyNS := measure(func() {
		c, _ := verifier.Check(token, permission)
		sink += int(c.GUID[0])
	}, *seconds)
	hmacNS := measure(func() {
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		sink += int(mac.Sum(nil)[0])
	}, *seconds)
	out, _ := json.Marshal(struct {
		Language string  `json:"language"`
		VerifyNS int64   `json:"verify_ns"`
		HMACNS   int64   `json:"hmac_ns"`
		Ratio    float64 `json:"ratio"`
	}{"go", int64(math.Round(verifyNS)), int64(math.Round(hmacNS)), math.Round(verifyNS/hmacNS*100) / 100})
	fmt.Println(string(out))
}
