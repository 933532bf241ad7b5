package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/spf13/cobra"
)

func newVNCCmd() *cobra.Command {
	var r remote
	var listen string
	c := &cobra.Command{
		Use:   "vnc VM",
		Short: "Forward a local port to a VM's screen, for a VNC viewer",
		Long: `Forward a local TCP port to a VM's screen on a running box, and print the
address to point a VNC viewer at (TigerVNC's vncviewer, Remmina, macOS
Screen Sharing ...). The command runs until ctrl-c; every viewer that
connects gets its own connection to the screen.

The box never opens a VNC port of its own: QEMU serves each VM's screen on
a unix socket, and the box's API serves that as a WebSocket
(GET /v1/vms/VM/vnc) to callers with the API token. This command carries
the token (--token or $NUCBOX_TOKEN) and checks the box's certificate
(--fingerprint), like every other command; the viewer needs no password.

The local port has no password either: it listens on the loopback address
unless --listen says otherwise, and anyone who can connect to it sees and
types on the screen. The web page shows the same screen in the browser.`,
		Example: `  nucbox vnc ubuntu1 --host https://192.168.1.10:8443 --token $TOKEN --fingerprint AB:CD:...
  vncviewer 127.0.0.1::5900
  nucbox vnc ubuntu1 --listen 127.0.0.1:0     # any free port`,
		Args: exactFiles(1, "the name of a VM"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			cl, err := r.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// One connection first, so that a wrong token, a VM that
			// does not run or has no screen is said now, not when the
			// viewer connects.
			probe, err := dialScreen(ctx, cl, name)
			if err != nil {
				return err
			}
			probe.Close()
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen %s: %w", listen, err)}
			}
			defer l.Close()
			addr := l.Addr().(*net.TCPAddr)
			fmt.Fprintf(c.OutOrStdout(), "The screen of %s is at %s: point a VNC viewer at it (vncviewer %s::%d). ctrl-c stops.\n",
				name, addr, addr.IP, addr.Port)
			if !addr.IP.IsLoopback() {
				fmt.Fprintf(c.ErrOrStderr(), "Warning: %s is not a loopback address: anyone who reaches it gets the screen, without a password.\n", addr)
			}
			return forwardScreen(ctx, l, func(ctx context.Context) (net.Conn, error) { return dialScreen(ctx, cl, name) }, c.ErrOrStderr())
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().MarkHidden("output")
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:5900", "local address for the viewer (port 0 picks a free one)")
	return c
}

// screenDialTimeout bounds reaching the box for one viewer.
const screenDialTimeout = 30 * time.Second

func dialScreen(ctx context.Context, cl *api.Client, name string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, screenDialTimeout)
	defer cancel()
	return cl.VNC(ctx, name)
}

// forwardScreen accepts viewers on l until ctx ends and joins each to a
// new connection from dial. A viewer whose screen cannot be reached is
// told on msg and closed; the forwarder goes on.
func forwardScreen(ctx context.Context, l net.Listener, dial func(context.Context) (net.Conn, error), msg io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(msg, format+"\n", args...) }
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	safe.Go(logf, "vnc: stop", func() {
		<-ctx.Done()
		l.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	for {
		viewer, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		mu.Lock()
		open[viewer] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		safe.Go(logf, "vnc: viewer", func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(open, viewer)
				mu.Unlock()
				viewer.Close()
			}()
			screen, err := dial(ctx)
			if err != nil {
				fmt.Fprintf(msg, "viewer %s: %v\n", viewer.RemoteAddr(), err)
				return
			}
			fmt.Fprintf(msg, "viewer %s connected\n", viewer.RemoteAddr())
			join(logf, viewer, screen)
			fmt.Fprintf(msg, "viewer %s left\n", viewer.RemoteAddr())
		})
	}
}

// join copies both ways until either side ends, then closes both.
func join(logf safe.Logf, a, b net.Conn) {
	var once sync.Once
	end := func() { once.Do(func() { a.Close(); b.Close() }) }
	done := make(chan struct{})
	safe.Go(logf, "vnc: viewer input", func() {
		defer close(done)
		defer end()
		io.Copy(b, a)
	})
	io.Copy(a, b)
	end()
	<-done
}
