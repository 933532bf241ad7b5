// Package safe keeps a panic from ending the process: PID 1 must never
// exit (the kernel panics when init dies), so every goroutine of the
// product starts here (test/arch holds every other package to it). Go
// runs a one-shot goroutine and logs its panic; Loop and Run run a
// long-lived component and restart it, with backoff, after a panic or an
// error, until its context ends; Recover and Call guard a call.
package safe
