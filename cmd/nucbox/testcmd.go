package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/labtest"
	"github.com/nucbox/nucbox/image/qemuboot"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/reach"
	"github.com/nucbox/nucbox/vmm"
	"github.com/spf13/cobra"
)

func newTestCmd() *cobra.Command {
	var ro runOptions
	var bootTimeout time.Duration
	var keep bool
	c := &cobra.Command{
		Use:   "test CONFIG [TESTFILE...]",
		Short: "Boot CONFIG in QEMU and check what its test files say it must reach, and must not",
		Long: `Give a config CI: build its image (cached, as 'nucbox run' does), boot it in
QEMU with its uplink on a virtual lab's wire, wait until it is ready, and
check each TESTFILE (default: CONFIG with .test.yaml for .yaml). On the wire
are QEMU's user network, untagged (a DHCP server, a gateway at 10.0.2.2 and
a name server at 10.0.2.3, as a lab LAN has), and the test files' lab
hosts, which answer ARP and ping on the VLANs they name, tagged, as
machines behind the lab switch would. A test file lists checks:

  within: 2m                  # how long checks that must pass keep trying
  checks:
    - from: ct10              # a container of the config, or box
      ping: 10.0.10.1         # or connect: ADDRESS:PORT, or resolve: NAME
    - from: ct20
      ping: 10.0.10.1
      expect: unreachable     # must not be reached
    - from: ct10
      resolve: vm10.lab       # asks the container's name server (or server:)
      answer: 10.0.10.10
    - status: vm10            # a VM or container
      state: running
    - from: ct30
      ping: 10.0.30.5         # the lab host below, through the uplink
  lab:
    - {vlan: 30, address: 10.0.30.5}

Each probe is sent by the box from inside the container's network
namespace, so it meets the same VLANs, routes and firewall as the
container's own traffic. A VM cannot be probed from (its network is inside
its guest); probe to it instead. A check that something is unreachable
counts only when the same source reached something else in the file: a
container whose network is down reaches nothing, which proves nothing.

The output reads like go test's: a PASS or FAIL line per check with its
file and line, then ok or FAIL per file. Exit status 0 when every check
passed, 1 when one failed or the box did not boot, 2 for a mistake on the
command line. The box's console goes to a file, named at the start and
kept when something failed.`,
		Example: `  nucbox test lab.yaml                      # checks lab.test.yaml
  nucbox test lab.yaml isolation.test.yaml dns.test.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError{fmt.Errorf("%s needs a config file (see '%s --help')", c.CommandPath(), c.CommandPath())}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return testConfig(c, args[0], args[1:], ro, bootTimeout, keep)
		},
	}
	addBootFlags(c, &ro)
	c.Flags().DurationVar(&bootTimeout, "boot-timeout", 5*time.Minute, "how long the box may take to be ready")
	c.Flags().BoolVar(&keep, "keep-console", false, "keep the console file also when every check passed")
	return c
}

// testConfig boots the config once and runs every test file against it.
func testConfig(c *cobra.Command, path string, testFiles []string, ro runOptions, bootTimeout time.Duration, keep bool) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return errors.New("qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)")
	}
	cfg, cfgData, guestPort, token, _, err := runConfig(path)
	if err != nil {
		return err
	}
	if len(testFiles) == 0 {
		testFiles = []string{strings.TrimSuffix(strings.TrimSuffix(path, ".yaml"), ".yml") + ".test.yaml"}
	}
	var files []*labtest.File
	var errs []error
	var containers, vms []string
	for _, ct := range cfg.Containers {
		containers = append(containers, ct.Name)
	}
	for _, vm := range cfg.VMs {
		vms = append(vms, vm.Name)
	}
	for _, tf := range testFiles {
		f, err := labtest.Load(tf)
		if err == nil {
			err = f.Names(containers, vms)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	dir, err := runBuild(c, path, cfgData, ro)
	if err != nil {
		return err
	}
	choice, err := vmm.ChooseAccel(ro.accel, vmm.HostKVM)
	if err != nil {
		return usageError{fmt.Errorf("--accel: %w", err)}
	}
	host, err := qemuboot.FreePort()
	if err != nil {
		return fmt.Errorf("finding a free port for the API: %w", err)
	}
	var hosts []qemuboot.LabHost
	for _, f := range files {
		for _, h := range f.Lab {
			hosts = append(hosts, qemuboot.LabHost{VLAN: h.VLAN, Addr: h.Addr})
		}
	}
	lab, err := qemuboot.StartLab(hosts, "")
	if err != nil {
		return err
	}
	defer lab.Close()
	safe.Go(log.Printf, "lab hosts", lab.Serve)
	qargs, err := qemuboot.Args(qemuboot.Options{Accel: string(choice.Accel), MemoryMiB: ro.memory, CPUs: ro.cpus, MAC: qemuboot.MACFor(cfg.Hostname),
		Kernel: filepath.Join(dir, "vmlinuz"), Initramfs: filepath.Join(dir, "initramfs.cpio.zst"), Cmdline: "console=ttyS0 panic=-1",
		Forward: []qemuboot.Forward{{Host: host, GuestPort: guestPort}}, Lab: lab, Unattended: true})
	if err != nil {
		return usageError{err}
	}
	console, err := os.CreateTemp("", "nucbox-test-console-*.log")
	if err != nil {
		return err
	}
	defer console.Close()
	fmt.Fprintf(stderr, "nucbox test: booting %s (%s; console in %s)\n", path, choice.Accel, console.Name())

	ready := make(chan bool, 1)
	w := &runWatch{hostAddr: host, token: token, announce: func(string) {}}
	w.onReady = func(ok bool) { ready <- ok }
	ctx, cancel := context.WithCancel(c.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, qargs...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(console, pw), console
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	exited := make(chan error, 1)
	safe.Go(log.Printf, "console watch", func() { w.watch(pr) })
	safe.Go(log.Printf, "qemu wait", func() { exited <- cmd.Wait(); pw.Close() })
	start := time.Now()
	fail := func(err error) error {
		cancel()
		<-exited
		fmt.Fprintf(stderr, "nucbox test: the console is kept in %s\n", console.Name())
		return err
	}
	select {
	case ok := <-ready:
		if !ok {
			return fail(fmt.Errorf("%s: the box's boot failed: %s", path, w.failure()))
		}
	case err := <-exited:
		fmt.Fprintf(stderr, "nucbox test: the console is kept in %s\n", console.Name())
		return fmt.Errorf("%s: QEMU ended before the box was ready: %v", path, err)
	case <-time.After(bootTimeout):
		return fail(fmt.Errorf("%s: the box was not ready within %v", path, bootTimeout))
	}
	token, fp := w.credentials()
	fmt.Fprintf(stderr, "nucbox test: the box is ready after %.1fs\n", time.Since(start).Seconds())
	client, err := api.NewClient(api.ClientOptions{Host: "https://" + host, Token: token, Fingerprint: fp})
	if err != nil {
		return fail(err)
	}
	r := &labtest.Runner{Box: apiLabBox{client}, Out: stdout, Retry: time.Second}
	reports := r.Run(ctx, files)

	// An orderly poweroff, as a test should leave a box; QEMU is
	// stopped when the box does not go within a minute.
	if _, _, err := client.Power(ctx, api.PowerOff); err != nil {
		fmt.Fprintf(stderr, "nucbox test: poweroff: %v\n", err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		cancel()
		<-exited
	}
	failed, total := 0, 0
	for _, rep := range reports {
		failed += rep.Failed()
		total += len(rep.Results)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "nucbox test: the console is kept in %s\n", console.Name())
		return fmt.Errorf("%d of %d checks failed", failed, total)
	}
	if !keep {
		os.Remove(console.Name())
	}
	return nil
}

// apiLabBox asks a box's API the test files' questions.
type apiLabBox struct{ c *api.Client }

func (b apiLabBox) Probe(ctx context.Context, ch labtest.Check) (labtest.Outcome, error) {
	req := api.ProbeRequest{From: ch.From, Server: ch.Server, TimeoutMS: int(reach.DefaultTimeout / time.Millisecond)}
	switch {
	case ch.Ping != "":
		req.Kind, req.Target = reach.Ping, ch.Ping
	case ch.Connect != "":
		req.Kind, req.Target = reach.Connect, ch.Connect
	default:
		req.Kind, req.Target = reach.Resolve, ch.Resolve
	}
	res, err := b.c.Probe(ctx, req)
	if err != nil {
		return labtest.Outcome{}, err
	}
	return labtest.Outcome{OK: res.OK, Detail: res.Detail, Answers: res.Answers}, nil
}

func (b apiLabBox) State(ctx context.Context, name string) (string, error) {
	st, _, err := b.c.Status(ctx)
	if err != nil {
		return "", err
	}
	for _, w := range st.Workloads {
		if w.Name == name {
			return w.State, nil
		}
	}
	return "", fmt.Errorf("status lists no workload %s", name)
}
