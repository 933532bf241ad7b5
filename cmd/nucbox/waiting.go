package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
	"golang.org/x/term"
)

// applyTimeout is how long `nucbox apply` waits for the box's answer by
// default. The box answers when every new workload has started, which
// for a hundred containers took over 40 s; the bound is for a box that
// stopped answering, not for a slow apply.
const applyTimeout = 10 * time.Minute

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself reads well (in a log file it would be noise).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// waiting shows "what… (Ns)" on w every tick until stop is called, which
// clears the line. A call the box answers at once shows nothing.
func waiting(w io.Writer, what string, tick time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	safe.Go(log.Printf, what+" progress", func() {
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%s… (%ds)", what, int(time.Since(start).Round(time.Second)/time.Second))
				shown = true
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done); wg.Wait() })
	}
}
