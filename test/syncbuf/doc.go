// Package syncbuf has a buffer that tests can poll while a process or a
// goroutine still writes to it.
package syncbuf
