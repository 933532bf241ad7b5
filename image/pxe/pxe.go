package pxe

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// File names in the bundle. The script names the kernel and initramfs
// relative to itself, so the bundle works from any TFTP or HTTP root.
const (
	ScriptName = "boot.ipxe"
	KernelName = "vmlinuz"
	InitrdName = "initramfs"
)

// ConfigPathTemplate is the path on the config server that ConfigURL
// gives: one file per machine, named by MAC.
const ConfigPathTemplate = "/configs/${mac}.yaml"

// Script is the content of boot.ipxe.
type Script struct {
	// Cmdline is the kernel command line without the config URL.
	Cmdline string
	// ConfigURL is passed as nucbox.config=; empty leaves it out (the
	// box then boots the config baked into its initramfs).
	ConfigURL string
	// Base is the URL the kernel and initramfs are fetched from
	// (http://10.0.30.1/); empty names them relative to the script, on
	// the server and protocol it came from.
	Base string
}

// ConfigURL turns --pxe-server HOST[:PORT] into the default config URL
// template, http://HOST[:PORT]/configs/${mac}.yaml.
func ConfigURL(server string) (string, error) {
	if server == "" {
		return "", errors.New("no config server given")
	}
	if strings.Contains(server, "://") || strings.ContainsAny(server, "/?#@ \t\n") {
		return "", fmt.Errorf("config server %q: want HOST or HOST:PORT, without a scheme or path", server)
	}
	host := server
	if h, p, err := net.SplitHostPort(server); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("config server %q: port %q is not a port number", server, p)
		}
		host = h
	} else if strings.Count(server, ":") > 1 {
		// A bare IPv6 address: bracket it so the port cannot be
		// misread.
		if net.ParseIP(server) == nil {
			return "", fmt.Errorf("config server %q: not a host name or address", server)
		}
		server = "[" + server + "]"
		host = ""
	}
	if host == "" && !strings.HasPrefix(server, "[") {
		return "", fmt.Errorf("config server %q: no host", server)
	}
	return "http://" + server + ConfigPathTemplate, nil
}

// Validate reports what iPXE or the kernel would misread.
func (s Script) Validate() error {
	if strings.ContainsAny(s.Cmdline, "\n\r") {
		return errors.New("kernel command line spans lines")
	}
	for _, w := range strings.Fields(s.Cmdline) {
		if w == "||" || w == "&&" {
			return fmt.Errorf("kernel command line word %q would be read by iPXE as an operator", w)
		}
		if strings.HasPrefix(w, "nucbox.config=") && s.ConfigURL != "" {
			return errors.New("kernel command line already sets nucbox.config=; give the URL in one place")
		}
	}
	if s.Base != "" && (!strings.HasPrefix(s.Base, "http://") || !strings.HasSuffix(s.Base, "/") || strings.ContainsAny(s.Base, " \t\n\r\"$")) {
		return fmt.Errorf("base URL %q: want http://HOST[:PORT]/ ending in a slash, without spaces", s.Base)
	}
	if s.ConfigURL != "" {
		if strings.ContainsAny(s.ConfigURL, " \t\n\r\"") {
			return fmt.Errorf("config URL %q contains spaces or quotes", s.ConfigURL)
		}
		scheme, _, ok := strings.Cut(s.ConfigURL, "://")
		if !ok || (scheme != "http" && scheme != "https") {
			return fmt.Errorf("config URL %q: want http:// or https://", s.ConfigURL)
		}
		if strings.Count(s.ConfigURL, "${") != strings.Count(s.ConfigURL, "}") {
			return fmt.Errorf("config URL %q has an unclosed ${", s.ConfigURL)
		}
	}
	return nil
}

// Bytes renders the script.
func (s Script) Bytes() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	args := strings.Fields(s.Cmdline)
	if s.ConfigURL != "" {
		args = append(args, "nucbox.config="+s.ConfigURL)
	}
	// EFI iPXE hands the kernel's EFI stub the initrd by this name; BIOS
	// iPXE ignores it.
	args = append(args, "initrd="+InitrdName)

	var b bytes.Buffer
	b.WriteString("#!ipxe\n")
	b.WriteString("# nucbox network boot. iPXE fills in ${...} before running each line.\n")
	// A chain-loaded script inherits the PXE ROM's DHCP lease; only an
	// iPXE started some other way (USB, built-in) needs its own.
	b.WriteString("isset ${ip} || dhcp\n")
	fmt.Fprintf(&b, "kernel %s%s %s\n", s.Base, KernelName, strings.Join(args, " "))
	fmt.Fprintf(&b, "initrd %s%s\n", s.Base, InitrdName)
	b.WriteString("boot\n")
	return b.Bytes(), nil
}
