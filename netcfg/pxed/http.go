package pxed

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxConfigBytes is the largest config served, as large as a box takes.
const maxConfigBytes = 1 << 20

// configsPrefix is the path of the configs on the HTTPS server; the
// script's URL names ${mac}.yaml under it.
const configsPrefix = "/configs/"

// bundleHandler serves the script, the kernel and the initramfs over
// plain HTTP, and nothing else.
func (s *Server) bundleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		f, _, mod, err := s.open(name)
		if err != nil {
			s.o.Logf("pxe: http %s from %s: %v", r.URL.Path, r.RemoteAddr, err)
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		s.machines.byAddr(remoteAddr(r.RemoteAddr), "http")
		http.ServeContent(w, r, name, mod, f)
	})
}

// configHandler serves /configs/MAC.yaml (and .yaml.sig) from the
// configs directory; a MAC without a config gets 404 at once, which
// sends the machine into maintenance mode.
func (s *Server) configHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, configsPrefix)
		sig := strings.HasSuffix(rest, ".yaml.sig")
		base := strings.TrimSuffix(strings.TrimSuffix(rest, ".sig"), ".yaml")
		mac, err := net.ParseMAC(base)
		if !ok || err != nil || len(mac) != 6 || mac.String() != base || (!sig && !strings.HasSuffix(rest, ".yaml")) {
			http.NotFound(w, r)
			return
		}
		spec := s.current()
		name := mac.String() + ".yaml"
		if sig {
			name += ".sig"
		}
		b, err := readLimited(filepath.Join(spec.Configs, name))
		from := remoteAddr(r.RemoteAddr)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !sig {
				s.machines.asked(mac.String(), from, false)
				s.o.Logf("pxe: %s (%s) has no config in %s: it boots into maintenance mode, and is listed in status until it is given one", mac, from, spec.Configs)
			}
			http.NotFound(w, r)
			return
		case err != nil:
			s.o.Logf("pxe: config of %s: %v", mac, err)
			http.Error(w, "config unreadable", http.StatusInternalServerError)
			return
		}
		if !sig {
			s.machines.asked(mac.String(), from, true)
			s.o.Logf("pxe: served %s to %s (%d bytes)", name, from, len(b))
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(b)
	})
}

// readLimited reads a config file, refusing one larger than a box takes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, errors.New("larger than 1 MiB")
	}
	return b, nil
}

// open opens one file of the bundle by name: the script, made for this
// server, or the kernel or initramfs. Other names are not there.
func (s *Server) open(name string) (io.ReadSeekCloser, int64, time.Time, error) {
	s.mu.Lock()
	b, script, berr := s.bundle, s.script, s.bundleErr
	s.mu.Unlock()
	if berr != nil {
		return nil, 0, time.Time{}, berr
	}
	switch name {
	case ScriptName:
		return nopCloser{strings.NewReader(string(script))}, int64(len(script)), time.Time{}, nil
	case KernelName, InitrdName:
		f, err := os.Open(filepath.Join(b.Dir, name))
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, time.Time{}, err
		}
		return f, st.Size(), st.ModTime(), nil
	}
	return nil, 0, time.Time{}, fs.ErrNotExist
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// remoteAddr is the IPv4 address of host:port, invalid when not one.
func remoteAddr(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
