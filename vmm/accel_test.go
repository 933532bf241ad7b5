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

func TestTCGModel(t *testing.T) {
	tests := []struct {
		name, cpuinfo, model string
		tcg                  bool
	}{
		{"TCG max CPU", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: QEMU TCG CPU version 2.5+\nflags\t\t: svm\n", "QEMU TCG CPU version 2.5+", true},
		{"real CPU", "processor\t: 0\nmodel name\t: Intel(R) Core(TM) i5-1135G7 @ 2.40GHz\n", "Intel(R) Core(TM) i5-1135G7 @ 2.40GHz", false},
		{"KVM guest", "model name\t: Intel(R) Xeon(R) Processor\n", "Intel(R) Xeon(R) Processor", false},
		{"no model line", "processor\t: 0\n", "", false},
	}
	for _, tt := range tests {
		model, tcg := tcgModel(tt.cpuinfo)
		if model != tt.model || tcg != tt.tcg {
			t.Errorf("%s: tcgModel = %q, %v; want %q, %v", tt.name, model, tcg, tt.model, tt.tcg)
		}
	}
	// A host-stage failure sends auto to TCG but lets "accel: kvm" insist.
	probe := func() (string, error) { return "", &KVMError{StageHost, errors.New("TCG")} }
	if c, err := ChooseAccel("auto", probe); err != nil || c.Accel != TCG {
		t.Errorf("auto on a TCG host = %+v, %v; want TCG", c, err)
	}
	if c, err := ChooseAccel("kvm", probe); err != nil || c.Accel != KVM {
		t.Errorf("kvm on a TCG host = %+v, %v; want KVM as configured", c, err)
	}
}
