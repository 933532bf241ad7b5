package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Console lines `nucbox run` reads to tell the user how to reach the box.
var (
	runListenRE = regexp.MustCompile(`api: listening on \S*:(\d+) \(TLS, certificate SHA-256 ([0-9A-F:]{95})\)`)
	runTokenRE  = regexp.MustCompile(`api: new token \(shown once[^)]*\): (\S+)`)
	runReadyRE  = regexp.MustCompile(`nucbox: (ready \{|failed: )`)
)

// runWatch reads the box's console as it passes to the terminal and
// reports, once, how to reach the box's API when the box is ready.
type runWatch struct {
	hostAddr string // 127.0.0.1:PORT, the forward of the API's port
	token    string // from the config, or read off the console
	// saveToken keeps a token the box generated, because a box with a
	// data partition shows it only on its first boot.
	saveToken func(string)
	announce  func(string)
	// onReady, when set, learns the outcome of the boot: true for the
	// ready line, false for a failed boot.
	onReady func(ok bool)

	mu          sync.Mutex
	fingerprint string
	done        bool
	failed      string
}

// credentials returns the token and certificate fingerprint seen so far.
func (w *runWatch) credentials() (token, fingerprint string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.token, w.fingerprint
}

// failure is the failed line's reason, once the boot failed.
func (w *runWatch) failure() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// watch consumes r line by line until it ends.
func (w *runWatch) watch(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		w.line(s.Text())
	}
}

func (w *runWatch) line(l string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m := runListenRE.FindStringSubmatch(l); m != nil {
		w.fingerprint = m[2]
	}
	if m := runTokenRE.FindStringSubmatch(l); m != nil && w.token == "" {
		w.token = m[1]
		if w.saveToken != nil {
			w.saveToken(w.token)
		}
	}
	if m := runReadyRE.FindStringSubmatch(l); m != nil && !w.done {
		w.done = true
		ok := strings.HasPrefix(m[1], "ready")
		if !ok {
			w.failed = l[strings.Index(l, "failed: ")+len("failed: "):]
		}
		w.announce(w.message(ok))
		if w.onReady != nil {
			w.onReady(ok)
		}
	}
}

// message is what the user reads on the terminal after the ready (or
// failed) line.
func (w *runWatch) message(ready bool) string {
	state := "ready"
	if !ready {
		state = "up, but its boot failed (see above)"
	}
	if w.fingerprint == "" {
		return fmt.Sprintf("nucbox run: the box is %s, but its API did not say it listens on a TCP port: nothing reaches it from here", state)
	}
	token := w.token
	if token == "" {
		token = "TOKEN"
	}
	return fmt.Sprintf("nucbox run: the box is %s; its API is at https://%s (token %s, certificate SHA-256 %s):\n"+
		"  nucbox status --host https://%s --token %s --fingerprint %s",
		state, w.hostAddr, token, w.fingerprint, w.hostAddr, token, w.fingerprint)
}
