package boot

import (
	"os"
	"runtime"
)

// PID 1's main goroutine keeps the process's main thread for itself, so
// that no other goroutine ever runs on that thread.
//
// libcontainer starts each container with a goroutine that locks its
// thread, joins the new container's mount namespace (with its own root
// and working directory) and ends without unlocking, so that the runtime
// discards the thread. The runtime cannot discard the main thread: when
// that goroutine ran there, the thread stayed parked for good inside the
// container's namespace. The kernel shows a process's namespaces, root
// and mounts as those of its main thread, so /proc/1/mountinfo,
// /proc/1/root and /proc/1/ns/mnt then named the first container that
// drew the main thread (TestSoak read that container's mounts as PID
// 1's), and that container's mount namespace, its rootfs overlay among
// the mounts, stayed alive after the container was gone. Code reading
// /proc/self/mountinfo read the container's too.
//
// An init function is where this must happen: the runtime runs package
// initialisation on the main thread, and a lock taken there holds into
// main. Container inits (the same binary, re-executed) lock their own
// thread in libcontainer; the command line does not start containers.
func init() {
	if os.Getpid() == 1 && os.Getenv("_LIBCONTAINER_INITPIPE") == "" {
		runtime.LockOSThread()
	}
}
