package vmm

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Accel is QEMU's accelerator.
type Accel string

// Accelerators.
const (
	KVM Accel = "kvm"
	TCG Accel = "tcg"
)

// AccelChoice is the accelerator of one start and why it was chosen; the
// reason goes into the log and the guest's status.
type AccelChoice struct {
	Accel  Accel
	Reason string
}

// KVMProbe reports whether KVM runs guest code at hardware speed: nil, or
// an error saying where it fell short. A *KVMError with Stage StageOpen,
// StageAPI or StageCreate means KVM cannot be used at all.
type KVMProbe func() (detail string, err error)

// KVM probe stages, in the order they run.
const (
	StageHost   = "host CPU"
	StageOpen   = "open /dev/kvm"
	StageAPI    = "KVM_GET_API_VERSION"
	StageCreate = "create VM"
	StageRun    = "run guest code"
	StageSpeed  = "guest code speed"
)

// KVMError is a failed KVM probe.
type KVMError struct {
	Stage string
	Err   error
}

func (e *KVMError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *KVMError) Unwrap() error { return e.Err }

// unusable reports whether KVM is missing, as opposed to present but slow
// or broken, which an explicit "accel: kvm" may still insist on.
func unusable(err error) bool {
	var ke *KVMError
	if !errors.As(err, &ke) {
		return true
	}
	switch ke.Stage {
	case StageOpen, StageAPI, StageCreate:
		return true
	}
	return false
}

// ChooseAccel picks the accelerator for a VM whose config asks for want
// (auto, kvm, tcg; "" is auto).
//
// An open /dev/kvm is not enough for auto: on hosts whose KVM cannot run
// ordinary guests at hardware speed (seen on a nested host without VMX,
// where a Linux guest spins forever in its decompressor) a KVM guest
// hangs while TCG works. So auto takes KVM only when the probe ran real
// guest code fast, and falls back to TCG otherwise. "kvm" skips the speed
// verdict but still needs a KVM that can create a VM; "tcg" never probes.
func ChooseAccel(want string, probe KVMProbe) (AccelChoice, error) {
	switch want {
	case "tcg":
		return AccelChoice{TCG, "configured accel: tcg"}, nil
	case "kvm":
		detail, err := probe()
		if err != nil && unusable(err) {
			return AccelChoice{}, fmt.Errorf("accel kvm configured, but KVM is not available: %w", err)
		}
		if err != nil {
			return AccelChoice{KVM, "configured accel: kvm (probe: " + err.Error() + ")"}, nil
		}
		return AccelChoice{KVM, "configured accel: kvm (" + detail + ")"}, nil
	case "", "auto":
		detail, err := probe()
		if err != nil {
			return AccelChoice{TCG, "auto: KVM not usable (" + err.Error() + "), using TCG"}, nil
		}
		return AccelChoice{KVM, "auto: " + detail}, nil
	}
	return AccelChoice{}, fmt.Errorf("accel %q: want auto, kvm or tcg", want)
}

// tcgModel returns the CPU model from /proc/cpuinfo text when it is QEMU's
// TCG CPU, that is when this machine is itself emulated by QEMU without
// acceleration (the appliance booted in QEMU for development and tests).
// TCG emulates SVM well enough for kvm_amd to load and for the speed probe
// to pass, but guests on it reset at random and, measured here, can freeze
// the whole box; so auto must not take KVM there.
func tcgModel(cpuinfo string) (string, bool) {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			v = strings.TrimSpace(v)
			return v, strings.Contains(v, "QEMU TCG CPU")
		}
	}
	return "", false
}

// HostKVM probes this host's KVM once per process: the answer is a
// property of the host and the probe costs a VM creation.
var HostKVM KVMProbe = sync.OnceValues(probeKVM)
