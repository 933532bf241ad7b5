//go:build !linux

package vmm

import "errors"

func probeKVM() (string, error) {
	return "", &KVMError{StageOpen, errors.New("KVM exists only on Linux")}
}
