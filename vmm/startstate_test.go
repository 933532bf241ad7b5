package vmm

import (
	"context"
	"testing"
	"time"
)

// A failed first start is returned only once the status says what comes
// next: callers (the ready summary) read Status right after Start.
func TestStatusSettledWhenStartFails(t *testing.T) {
	for _, tc := range []struct {
		policy Restart
		want   State
	}{
		{RestartNever, StateFailed},
		{RestartAlways, StateBackoff},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			// A backoff long enough that the retry cannot overtake the read.
			g := fakeGuest(t, "fail", tc.policy, Options{Backoff: Backoff{Min: time.Hour, Max: time.Hour, Stable: time.Hour}})
			defer g.Stop(context.Background())
			if err := g.Start(context.Background()); err == nil {
				t.Fatal("Start succeeded")
			}
			if st := g.Status(); st.State != tc.want || st.LastError == "" {
				t.Errorf("status right after the failed Start: state %s, error %q; want %s with the error", st.State, st.LastError, tc.want)
			}
		})
	}
}
