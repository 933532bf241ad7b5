//go:build panicinject

package inject

import (
	"testing"
	"time"
)

// TestHangUnderPanicinject: an armed hang point blocks after saying so,
// until released; an unarmed one returns at once.
func TestHangUnderPanicinject(t *testing.T) {
	Hang("quiet", t.Errorf) // never armed: returns, says nothing
	ArmHang("test.hang")
	said := make(chan string, 1)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		Hang("test.hang", func(f string, a ...any) { said <- f })
	}()
	select {
	case <-said:
	case <-time.After(10 * time.Second):
		t.Fatal("an armed hang point said nothing")
	}
	select {
	case <-returned:
		t.Fatal("an armed hang point returned before its release")
	case <-time.After(200 * time.Millisecond):
	}
	Release("test.hang")
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("a released hang point still blocks")
	}
	Hang("test.hang", t.Errorf) // released means disarmed
}
