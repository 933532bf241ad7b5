package inject

import "testing"

func TestPoint(t *testing.T) {
	Point("quiet") // never armed: no panic in either build
	Arm("test.point")
	fired := func() (p bool) {
		defer func() { p = recover() != nil }()
		Point("test.point")
		return false
	}
	if got := fired(); got != Enabled {
		t.Errorf("armed point panicked: %v, want %v (Enabled)", got, Enabled)
	}
	if fired() {
		t.Error("a point fired twice for one arming")
	}
}

func TestHangUnarmed(t *testing.T) {
	// Never armed in either build: returns and says nothing.
	Hang("quiet", t.Errorf)
}
