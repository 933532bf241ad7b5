package vmm

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// checkPeer fails unless the process at the other end of the unix
// connection c (the one that listened, SO_PEERCRED) is pid.
func checkPeer(c net.Conn, pid int) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("who serves it: %w", credErr)
	}
	if int(cred.Pid) != pid {
		return fmt.Errorf("served by pid %d, not by the QEMU just started (pid %d)", cred.Pid, pid)
	}
	return nil
}
