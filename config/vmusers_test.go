package config

import "testing"

// A VM's uid depends on its name only: adding, removing or reordering
// other VMs leaves it; every uid is in the VM range and no two VMs share
// one, even when their hashes meet.
func TestVMUsers(t *testing.T) {
	a := VMUsers([]string{"web", "db", "ci"})
	b := VMUsers([]string{"new", "ci", "web"})
	if a[0] != b[2] || a[2] != b[1] {
		t.Errorf("uids moved with the order: %v, %v", a, b)
	}
	seen := map[uint32]bool{}
	names := make([]string, 3000)
	for i := range names {
		names[i] = "vm" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	for _, u := range VMUsers(names) {
		if u < VMUserBase || u >= VMUserBase+VMUserRange {
			t.Fatalf("uid %d outside the VM range", u)
		}
		if seen[u] {
			t.Fatalf("uid %d given twice", u)
		}
		seen[u] = true
	}
}
