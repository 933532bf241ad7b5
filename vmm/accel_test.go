package vmm

import (
	"errors"
	"strings"
	"testing"
)

func fakeProbe(detail string, err error) KVMProbe {
	return func() (string, error) { return detail, err }
}

func TestChooseAccel(t *testing.T) {
	works := fakeProbe("KVM ran a loop in 3ms", nil)
	slow := fakeProbe("", &KVMError{StageSpeed, errors.New("loop did not finish")})
	missing := fakeProbe("", &KVMError{StageOpen, errors.New("no such file or directory")})
	called := func(t *testing.T) KVMProbe {
		return func() (string, error) { t.Error("tcg must not probe KVM"); return "", nil }
	}
	for _, tc := range []struct {
		name, want string
		probe      KVMProbe
		accel      Accel
		reason     string // substring
		err        string // substring; "" for success
	}{
		{"auto works", "auto", works, KVM, "auto: KVM ran", ""},
		{"empty is auto", "", works, KVM, "auto:", ""},
		{"auto slow", "auto", slow, TCG, "KVM not usable (guest code speed: loop did not finish), using TCG", ""},
		{"auto missing", "auto", missing, TCG, "open /dev/kvm", ""},
		{"kvm forced on slow host", "kvm", slow, KVM, "configured accel: kvm (probe: guest code speed", ""},
		{"kvm forced works", "kvm", works, KVM, "configured accel: kvm (KVM ran", ""},
		{"kvm forced missing", "kvm", missing, "", "", "KVM is not available: open /dev/kvm"},
		{"tcg", "tcg", called(t), TCG, "configured accel: tcg", ""},
		{"unknown", "hvf", works, "", "", `accel "hvf"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ChooseAccel(tc.want, tc.probe)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Accel != tc.accel || !strings.Contains(c.Reason, tc.reason) {
				t.Fatalf("got %+v, want %s with reason containing %q", c, tc.accel, tc.reason)
			}
		})
	}
}
