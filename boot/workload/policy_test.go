package workload

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestBackoffSchedule(t *testing.T) {
	b := DefaultBackoff
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w*time.Second {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := b.Delay(0); got != time.Second {
		t.Errorf("Delay(0) = %v", got)
	}
	if got := b.Delay(1000); got != time.Minute {
		t.Errorf("Delay(1000) = %v (overflow?)", got)
	}
}

func TestBackoffReset(t *testing.T) {
	b := DefaultBackoff
	n := 0
	// Three quick crashes climb the schedule...
	for range 3 {
		n = b.Failures(n, 10*time.Second)
	}
	if n != 3 || b.Delay(n) != 4*time.Second {
		t.Fatalf("after three quick crashes: n=%d delay=%v", n, b.Delay(n))
	}
	// ...and a crash after a stable run starts it over.
	n = b.Failures(n, 5*time.Minute)
	if n != 1 || b.Delay(n) != time.Second {
		t.Errorf("after a stable run: n=%d delay=%v", n, b.Delay(n))
	}
}

func TestPolicyRestarts(t *testing.T) {
	crash := &exec.ExitError{}
	for _, tc := range []struct {
		policy Policy
		err    error
		want   bool
	}{
		{Always, nil, true},
		{Always, crash, true},
		{"", crash, true},
		{OnFailure, nil, false},
		{OnFailure, crash, true},
		{OnFailure, errors.New("start failed"), true},
		{Never, nil, false},
		{Never, crash, false},
	} {
		if got := tc.policy.Restarts(tc.err); got != tc.want {
			t.Errorf("%q.Restarts(%v) = %v", tc.policy, tc.err, got)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{Always, OnFailure, Never} {
		if got, err := ParsePolicy(string(p)); got != p || err != nil {
			t.Errorf("ParsePolicy(%q) = %q, %v", p, got, err)
		}
	}
	for _, s := range []string{"sometimes", ""} {
		if _, err := ParsePolicy(s); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("restart %q", s)) {
			t.Errorf("ParsePolicy(%q): %v", s, err)
		}
	}
}
