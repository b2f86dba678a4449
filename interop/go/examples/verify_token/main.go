// Verify the token on stdin: go run ./examples/verify_token KEYSET LIST (run by the tests).
package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"strings"

	"sigil.dev/verify"
)

func main() {
	keyset, err := verify.ReadKeyset(os.Args[1]) // from `sigil keys export --audience billing`
	if err != nil {
		log.Fatal(err)
	}
	store := verify.NewRevocationStore(keyset.RevocationKeys, verify.FailClosed)
	_, err = store.LoadFile(os.Args[2]) // or keep it current: go follower.Run(ctx)
	if err != nil {
		log.Fatal(err)
	}
	token, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	claims, err := keyset.NewVerifier(store).Check(strings.TrimSpace(token), verify.ReadPermission("devices.list"))
	if err != nil {
		fmt.Println("refused", verify.ReasonOf(err)) // the reason code; never the token
	} else {
		fmt.Println("valid", claims.GUID)
	}
}
