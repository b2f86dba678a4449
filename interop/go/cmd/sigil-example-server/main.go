// Command sigil-example-server is a tiny protected service for the cross-language live test
// (interop/live/):
//
//	sigil-example-server --port N --keyset PATH --revocations-url URL \
//	                     --permission RESOURCE.ACTION --access read|write [--wait S]
//
// It fails closed (no list yet, or a stale one: 503), follows URL (GET /v1/revocations
// long polls) with a RevocationFollower, serves GET /protected through verify.Middleware
// (200 {"guid": ...} when allowed), prints `listening <port>` once it accepts connections
// and exits 0 on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sigil.dev/verify"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("sigil-example-server: ")
	port := flag.Int("port", -1, "port on 127.0.0.1 (0: any free port)")
	keysetPath := flag.String("keyset", "", "keyset file (sigil keys export --audience AUD)")
	listURL := flag.String("revocations-url", "", "sigil-server's /v1/revocations URL")
	permission := flag.String("permission", "", "resource.action the protected route needs")
	access := flag.String("access", "", "read or write")
	wait := flag.Int("wait", 30, "seconds the server may hold each poll")
	flag.Parse()
	if *port < 0 || *keysetPath == "" || *listURL == "" || (*access != "read" && *access != "write") {
		flag.Usage()
		os.Exit(64)
	}
	mode := verify.Read
	if *access == "write" {
		mode = verify.Write
	}
	p, err := verify.NewPermission(*permission, mode)
	if err != nil {
		log.Fatal(err)
	}
	keyset, err := verify.ReadKeyset(*keysetPath)
	if err != nil {
		log.Fatal(err)
	}
	store := verify.NewRevocationStore(keyset.RevocationKeys, verify.FailClosed, verify.StaleFailsClosed())
	follower, err := verify.NewRevocationFollower(*listURL, store, *wait)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.TokenFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"guid": %q}`, claims.GUID.String())
	})
	guarded := verify.Middleware(keyset.NewVerifier(store), p)(protected)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/protected" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			guarded.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"not_found"}`)
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go follower.Run(ctx)
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		log.Fatal(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Print(err)
	}
}
