// Package safe keeps a panic from ending the process: PID 1 must never
// exit (the kernel panics when init dies), so every goroutine PID 1 and the
// box supervisor start, and every call into a stage, goes through these
// helpers, which log the panic with its stack and carry on.
package safe
