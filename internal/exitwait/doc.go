// Package exitwait waits for a child process to exit without holding an
// OS thread. os.Process.Wait and exec.Cmd.Wait block in waitid(2), and a
// goroutine blocked in a system call keeps its thread: PID 1 supervising
// a hundred and twenty workloads had a hundred and thirty threads, each
// with its own stacks. A pidfd becomes readable when its process exits,
// so the runtime's poller can wait for that instead; the caller's Wait
// then reaps a zombie and returns at once.
package exitwait
