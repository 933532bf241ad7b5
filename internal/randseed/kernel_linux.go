package randseed

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AddEntropy mixes data into the kernel's pool through dev (/dev/random
// or /dev/urandom) with RNDADDENTROPY, crediting bits (0 mixes only).
// It needs CAP_SYS_ADMIN.
func AddEntropy(dev string, data []byte, bits int) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	buf := make([]byte, 8+len(data))
	*(*int32)(unsafe.Pointer(&buf[0])) = int32(bits)
	*(*int32)(unsafe.Pointer(&buf[4])) = int32(len(data))
	copy(buf[8:], data)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", errno)
	}
	return nil
}

// EntropyCount is the kernel's count of credited bits in its input pool
// (RNDGETENTCNT), as /proc/sys/kernel/random/entropy_avail shows it.
func EntropyCount(dev string) (int, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.RNDGETENTCNT)
	if err != nil {
		return 0, fmt.Errorf("RNDGETENTCNT: %w", err)
	}
	return n, nil
}

// Read fills b from the kernel's pool with getrandom(2), blocking until
// the pool is ready. Where no source has made it ready, blocking is what
// makes the kernel collect timing jitter itself; a non-blocking read in a
// loop would only spin. EINTR is retried.
func Read(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Getrandom(b, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("getrandom: %w", err)
		}
		b = b[n:]
	}
	return nil
}
