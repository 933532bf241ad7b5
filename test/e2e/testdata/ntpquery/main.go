// Command ntpquery asks an NTP server once, from inside a container of the
// e2e tests (whose busybox has no ntpd):
//
//	ntpquery HOST[:PORT]
//
// It prints one line, NTP-QUERY with the reply's leap indicator,
// stratum, reference id and the clock's offset, or NTP-QUERY-FAILED with
// the error, and exits 0 only for a reply a client may set its clock
// from (beevik/ntp's checks).
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/beevik/ntp"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Println("usage: ntpquery HOST[:PORT]")
		os.Exit(2)
	}
	r, err := ntp.QueryWithOptions(os.Args[1], ntp.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		fmt.Printf("NTP-QUERY-FAILED %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	verr := r.Validate()
	fmt.Printf("NTP-QUERY %s leap=%d stratum=%d refid=%s offset=%s valid=%v\n", os.Args[1], r.Leap, r.Stratum,
		r.ReferenceString(), r.ClockOffset.Round(time.Millisecond), verr == nil)
	if verr != nil {
		os.Exit(1)
	}
}
