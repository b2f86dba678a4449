package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func BenchmarkCheck(b *testing.B) {
	var entries []entry
	for i := 0; i < 10000; i++ {
		entries = append(entries, entry{randomGUID(), 2})
	}
	store := newStore(FailClosed)
	if _, err := store.Load(makeList(entries, 1, 0, testSeed)); err != nil {
		b.Fatal(err)
	}
	v := newVerifier(b, store)
	token, _ := makeToken(CustomScope("devices.list", "invoices.read"))
	p := ReadPermission("devices.list")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Check(token, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareHMAC(b *testing.B) {
	body := make([]byte, 74)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		mac := hmac.New(sha256.New, testKey)
		mac.Write(body)
		mac.Sum(nil)
	}
}
