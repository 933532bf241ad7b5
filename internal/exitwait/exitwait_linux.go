package exitwait

import (
	"os"

	"golang.org/x/sys/unix"
)

// Exited returns once the process pid has exited (it is then a zombie
// until its parent reaps it), or at once when that cannot be waited for
// this way: no pidfd (kernels before 5.3), or a pidfd the poller does
// not take. It reaps nothing, so the caller's Wait still gets the exit
// status; after a false return that Wait simply blocks as before.
func Exited(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	err = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return err == nil && n > 0 || err != nil && err != unix.EINTR
	})
	return err == nil
}
