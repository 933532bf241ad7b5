package policy

import (
	"testing"

	"github.com/google/nftables"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// TestNoPolicyInFreshNamespace is the box with no policed port, which is
// most boxes: applying nothing where the table never existed changes
// nothing and fails nothing, and taking every rule away again removes the
// table a policy made.
func TestNoPolicyInFreshNamespace(t *testing.T) {
	box := netnstest.New(t, "box")
	ns := box.Namespace()
	exists := func() bool {
		t.Helper()
		c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
		if err != nil {
			t.Fatal(err)
		}
		ok, err := tableExists(c)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := 0; i < 2; i++ {
		st, err := Apply(ns, Spec{})
		if err != nil || st.Changes != 0 {
			t.Fatalf("apply %d of no policy where no table is: %d change(s), %v; want none and no error", i+1, st.Changes, err)
		}
	}
	if exists() {
		t.Fatal("no policy made a table")
	}
	// The control: a rule makes the table, which the check above would
	// have seen.
	one := Spec{Ports: []Port{{Link: "v-a-0", Name: "a.0", Rules: []Rule{{Proto: "tcp", Port: 22}}}}}
	if _, err := Apply(ns, one); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatal("a port's rule made no table")
	}
	if st, err := Apply(ns, Spec{}); err != nil || st.Changes != 1 || exists() {
		t.Fatalf("taking the rule away: %d change(s), %v, table left %v; want one change and no table", st.Changes, err, exists())
	}
}
