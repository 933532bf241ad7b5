package randseed

import (
	"bytes"
	"testing"
)

func TestDecide(t *testing.T) {
	me, other := Identity("box-1", "data-1"), Identity("box-2", "data-1")
	var data [Size]byte
	copy(data[:], "fresh bytes from a ready pool")
	fresh := Fresh(data, me)
	torn := bytes.Clone(fresh)
	torn[seedOff+3] ^= 0x80
	for _, tc := range []struct {
		name     string
		file     []byte
		wantMix  bool
		wantBits int
	}{
		{"no file", nil, false, 0},
		{"fresh seed of this box", fresh, true, 8 * Size},
		{"seed of another box", Fresh(data, other), true, 0},
		{"replacement (already used)", Replacement(fresh, me), true, 0},
		{"written uncreditable", Seed{Identity: me, Data: data}.Marshal(), true, 0},
		{"torn or edited", torn, true, 0},
		{"foreign file", []byte("some other file that happens to be there"), true, 0},
	} {
		v := Decide(tc.file, me)
		if (v.Mix != nil) != tc.wantMix || v.CreditBits != tc.wantBits {
			t.Errorf("%s: mix %d bytes, credit %d bits (%s); want mix=%v credit %d",
				tc.name, len(v.Mix), v.CreditBits, v.Reason, tc.wantMix, tc.wantBits)
		}
		if v.Reason == "" {
			t.Errorf("%s: no reason for the log", tc.name)
		}
	}
}

// A seed is credited once: the file that replaces it before use is never
// creditable, differs from it, and its successor differs again.
func TestNeverCreditedTwice(t *testing.T) {
	id := Identity("box")
	var data [Size]byte
	copy(data[:], "seed")
	file := Fresh(data, id)
	if Decide(file, id).CreditBits == 0 {
		t.Fatal("control: a fresh seed of this box is not credited")
	}
	next := Replacement(file, id)
	if v := Decide(next, id); v.CreditBits != 0 {
		t.Errorf("the replacement is credited again (%s)", v.Reason)
	}
	s, err := Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if s.Data == data {
		t.Error("the replacement holds the used seed's bytes")
	}
	if bytes.Equal(Replacement(next, id), next) {
		t.Error("replacing a replacement gives the same file")
	}
}
