package vmm

import (
	"testing"
	"time"
	"unsafe"
)

// The probe's structs are handed to the kernel as raw memory; a field
// added in the wrong place would make KVM read garbage.
func TestKVMStructSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_userspace_memory_region", unsafe.Sizeof(kvmUserspaceMemoryRegion{}), 32},
		{"kvm_regs", unsafe.Sizeof(kvmRegs{}), 144},
		{"kvm_segment", unsafe.Sizeof(kvmSegment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(kvmDtable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(kvmSregs{}), 312},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof %s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestHostKVMProbe runs the real probe. Its verdict depends on the host, so
// it only checks that the probe answers quickly and consistently with
// ChooseAccel; the verdict is logged.
func TestHostKVMProbe(t *testing.T) {
	start := time.Now()
	detail, err := probeKVM()
	took := time.Since(start)
	t.Logf("KVM probe: detail=%q err=%v (%v)", detail, err, took)
	if took > 2*time.Second {
		t.Errorf("probe took %v; it must stay well under a second", took)
	}
	c, cerr := ChooseAccel("auto", fakeProbe(detail, err))
	if cerr != nil {
		t.Fatal(cerr)
	}
	t.Logf("auto chooses %s: %s", c.Accel, c.Reason)
}
