package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWaiting: a wait longer than a tick shows the progress line and
// clears it at the end; a call answered at once shows nothing.
func TestWaiting(t *testing.T) {
	var quick lockedBuffer
	waiting(&quick, "applying", time.Hour)()
	if s := quick.String(); s != "" {
		t.Errorf("an answer before the first tick printed %q", s)
	}

	var slow lockedBuffer
	stop := waiting(&slow, "applying", 5*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(slow.String(), "\rapplying… (") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop() // twice is harmless
	s := slow.String()
	if !strings.Contains(s, "\rapplying… (0s)") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("progress while waiting = %q, want \"\\rapplying… (0s)\" lines ending in a cleared line", s)
	}
}
