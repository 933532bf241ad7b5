package containers

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are refused with EPERM by the default profile. The list
// follows Docker's default profile for a container without CAP_SYS_ADMIN:
// kernel modules and kexec, reboot and swap, clock setting, the kernel
// keyring, BPF and perf, mounts and namespace changes, io_uring, handle
// based opens (the "shocker" escape), and obsolete or NUMA calls. It is a
// deny list so that images using new ordinary syscalls keep working on a
// box whose kernel is newer than the profile.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter",
	"io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind",
	"migrate_pages", "mount", "mount_setattr", "move_mount", "move_pages",
	"name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
	"perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
	"query_module", "quotactl", "reboot", "request_key", "set_mempolicy",
	"setns", "settimeofday", "stime", "swapoff", "swapon", "_sysctl", "syslog",
	"umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86",
	"vm86old",
}

// newNamespaceFlags are the clone flags that create namespaces; clone
// with any of them is refused as unshare is.
const newNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// DefaultSeccomp is the profile every container gets.
func DefaultSeccomp() *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: append([]specs.LinuxSyscall{
			{Names: deniedSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm},
			// clone3 passes its flags in memory seccomp cannot read:
			// ENOSYS makes libc fall back to clone, which is checked.
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.ENOSYS))},
		}, cloneRules(eperm)...),
	}
}

// cloneRules refuse clone with any namespace flag. A masked-equal test
// can only say "these bits are set", so there is one rule per flag; rules
// of one syscall are alternatives. clone's flags are its first argument
// on x86-64.
func cloneRules(errno uint) []specs.LinuxSyscall {
	var rs []specs.LinuxSyscall
	for bit := uint64(1); bit != 0; bit <<= 1 {
		if bit&newNamespaceFlags == 0 {
			continue
		}
		rs = append(rs, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &errno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: bit, ValueTwo: bit, Op: specs.OpMaskedEqual}},
		})
	}
	return rs
}

func ptr[T any](v T) *T { return &v }
