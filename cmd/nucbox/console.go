package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nucbox/nucbox/internal/safe"
)

// detachKey is ctrl-], as in telnet and virsh console.
const detachKey = 0x1d

func newConsoleCmd() *cobra.Command {
	var r remote
	c := &cobra.Command{
		Use:   "console VM",
		Short: "Attach to a VM's serial console (ctrl-] detaches)",
		Long: `Attach the terminal to a VM's serial console on a running box: what the
guest prints appears here, and what is typed goes to the guest's serial
port. The terminal is put in raw mode, so keys such as ctrl-c reach the
guest; ctrl-] detaches and restores the terminal. The VM keeps running,
and its serial log keeps being recorded (nucbox logs VM).

Several consoles may be attached at once; they all see the output.`,
		Example: `  nucbox console ubuntu1
  nucbox console ubuntu1 --host https://192.168.1.10:8443 --token $TOKEN --fingerprint AB:CD:...`,
		Args: exactFiles(1, "the name of a VM"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			cl, err := r.client()
			if err != nil {
				return err
			}
			conn, err := cl.Console(c.Context(), name)
			if err != nil {
				return err
			}
			defer conn.Close()
			return attachConsole(name, conn, c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().MarkHidden("output")
	return c
}

// attachConsole copies between the terminal and the console until
// ctrl-] or the end of the console. A terminal on in is put in raw mode
// and restored on the way out.
func attachConsole(name string, conn io.ReadWriteCloser, in io.Reader, out, msg io.Writer) error {
	nl := "\n"
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("raw mode: %w", err)
		}
		defer term.Restore(int(f.Fd()), old)
		nl = "\r\n" // raw mode: no newline translation
	}
	fmt.Fprintf(msg, "Connected to the serial console of %s. Press ctrl-] to detach.%s", name, nl)

	remoteDone := make(chan error, 1)
	safe.Go(log.Printf, "console output", func() {
		_, err := io.Copy(out, conn)
		remoteDone <- err
	})
	detached := make(chan error, 1)
	safe.Go(log.Printf, "console input", func() {
		buf := make([]byte, 1024)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				i := bytes.IndexByte(chunk, detachKey)
				if i >= 0 {
					chunk = chunk[:i]
				}
				if len(chunk) > 0 {
					if _, werr := conn.Write(chunk); werr != nil {
						detached <- werr
						return
					}
				}
				if i >= 0 {
					detached <- nil
					return
				}
			}
			if err != nil {
				// The end of a non-terminal input detaches too.
				if errors.Is(err, io.EOF) {
					err = nil
				}
				detached <- err
				return
			}
		}
	})
	select {
	case err := <-detached:
		conn.Close()
		fmt.Fprintf(msg, "%sDetached from %s.%s", nl, name, nl)
		return err
	case err := <-remoteDone:
		fmt.Fprintf(msg, "%sThe console of %s ended (the VM stopped, or the box went away).%s", nl, name, nl)
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		return nil
	}
}
