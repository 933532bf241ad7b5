package vmm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The KVM probe runs a few bytes of 64-bit code in a throwaway VM: a
// 5-million-iteration loop, then an OUT to port 0xE9. Hardware KVM runs it
// in a few milliseconds; a KVM that emulates guest kernel code (as on a
// nested host without VMX) takes seconds, and a Linux guest there never
// gets out of its decompressor. Opening /dev/kvm and creating a VM both
// succeed on such hosts, so only running code tells them apart.
const (
	probeLoops    = 5_000_000
	probeDeadline = 100 * time.Millisecond
	probePort     = 0xe9
	probeMemSize  = 2 << 20
	probePML4     = 0x2000
	probePDPT     = 0x3000
	probePD       = 0x4000
)

var probeCode = []byte{
	0xb9, 0x40, 0x4b, 0x4c, 0x00, // mov ecx, 5000000
	0xff, 0xc9, // dec ecx
	0x75, 0xfc, // jnz dec
	0x66, 0xba, probePort, 0x00, // mov dx, 0xe9
	0xb0, 'K', // mov al, 'K'
	0xee, // out dx, al
	0xf4, // hlt
}

// ioctl numbers from linux/kvm.h.
const (
	kvmGetAPIVersion       = 0xAE00
	kvmCreateVM            = 0xAE01
	kvmGetVCPUMmapSize     = 0xAE04
	kvmCreateVCPU          = 0xAE41
	kvmSetUserMemoryRegion = 0x4020AE46
	kvmSetRegs             = 0x4090AE82
	kvmGetSregs            = 0x8138AE83
	kvmSetSregs            = 0x4138AE84
	kvmRun                 = 0xAE80

	kvmExitIO   = 2
	kvmExitHLT  = 5
	kvmExitIntr = 10
)

type kvmUserspaceMemoryRegion struct {
	Slot, Flags                              uint32
	GuestPhysAddr, MemorySize, UserspaceAddr uint64
}

type kvmRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

type kvmSegment struct {
	Base                                           uint64
	Limit                                          uint32
	Selector                                       uint16
	Type, Present, DPL, DB, S, L, G, AVL, Unusable uint8
	_                                              uint8
}

type kvmDtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

type kvmSregs struct {
	CS, DS, ES, FS, GS, SS, TR, LDT         kvmSegment
	GDT, IDT                                kvmDtable
	CR0, CR2, CR3, CR4, CR8, EFER, APICBase uint64
	InterruptBitmap                         [4]uint64
}

func kvmIoctl(fd int, req, arg uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

func probeKVM() (string, error) {
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if model, tcg := tcgModel(string(info)); tcg {
			return "", &KVMError{StageHost, fmt.Errorf("this machine runs on QEMU's TCG (%s), whose emulated SVM/VMX does not run KVM guests reliably", model)}
		}
	}
	kvm, err := unix.Open(kvmDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &KVMError{StageOpen, err}
	}
	defer unix.Close(kvm)
	v, err := kvmIoctl(kvm, kvmGetAPIVersion, 0)
	if err != nil {
		return "", &KVMError{StageAPI, err}
	}
	if v != 12 {
		return "", &KVMError{StageAPI, fmt.Errorf("version %d, want 12", v)}
	}
	vmfd, err := kvmIoctl(kvm, kvmCreateVM, 0)
	if err != nil {
		return "", &KVMError{StageCreate, err}
	}
	vm := int(vmfd)
	defer unix.Close(vm)

	mem, err := unix.Mmap(-1, 0, probeMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return "", &KVMError{StageCreate, err}
	}
	defer unix.Munmap(mem)
	copy(mem, probeCode)
	// Identity-map the first 2 MiB with one large page: long mode needs
	// paging, and 64-bit code is what a modern guest kernel runs.
	put := func(off int, v uint64) { *(*uint64)(unsafe.Pointer(&mem[off])) = v }
	const present, rw, large = 1, 2, 0x80
	put(probePML4, probePDPT|present|rw)
	put(probePDPT, probePD|present|rw)
	put(probePD, present|rw|large)
	region := kvmUserspaceMemoryRegion{MemorySize: probeMemSize, UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	if _, err := kvmIoctl(vm, kvmSetUserMemoryRegion, uintptr(unsafe.Pointer(&region))); err != nil {
		return "", &KVMError{StageCreate, fmt.Errorf("set memory: %w", err)}
	}
	cpufd, err := kvmIoctl(vm, kvmCreateVCPU, 0)
	if err != nil {
		return "", &KVMError{StageCreate, fmt.Errorf("create vCPU: %w", err)}
	}
	cpu := int(cpufd)
	defer unix.Close(cpu)
	size, err := kvmIoctl(kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return "", &KVMError{StageCreate, err}
	}
	run, err := unix.Mmap(cpu, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return "", &KVMError{StageCreate, err}
	}
	defer unix.Munmap(run)

	var sregs kvmSregs
	if _, err := kvmIoctl(cpu, kvmGetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return "", &KVMError{StageRun, fmt.Errorf("get sregs: %w", err)}
	}
	code := kvmSegment{Limit: 0xffffffff, Selector: 1 << 3, Type: 11, Present: 1, S: 1, L: 1, G: 1}
	data := kvmSegment{Limit: 0xffffffff, Selector: 2 << 3, Type: 3, Present: 1, DB: 1, S: 1, G: 1}
	sregs.CS = code
	sregs.DS, sregs.ES, sregs.FS, sregs.GS, sregs.SS = data, data, data, data, data
	sregs.CR3 = probePML4
	sregs.CR4 = 1 << 5 // PAE
	sregs.CR0 = 1<<0 | 1<<1 | 1<<4 | 1<<5 | 1<<16 | 1<<18 | 1<<31
	sregs.EFER = 1<<8 | 1<<10 // LME, LMA
	if _, err := kvmIoctl(cpu, kvmSetSregs, uintptr(unsafe.Pointer(&sregs))); err != nil {
		return "", &KVMError{StageRun, fmt.Errorf("set sregs: %w", err)}
	}
	regs := kvmRegs{RIP: 0, RSP: probeMemSize, RFLAGS: 2}
	if _, err := kvmIoctl(cpu, kvmSetRegs, uintptr(unsafe.Pointer(&regs))); err != nil {
		return "", &KVMError{StageRun, fmt.Errorf("set regs: %w", err)}
	}
	return runProbe(cpu, run)
}

// runProbe runs the vCPU on a locked thread. If the loop outlives the
// deadline, the thread is kicked out of KVM_RUN the way QEMU does it:
// immediate_exit set, then a signal to that thread (SIGURG, which the Go
// runtime already handles and ignores).
func runProbe(cpu int, run []byte) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	exitReason := (*uint32)(unsafe.Pointer(&run[8]))
	immediateExit := &run[1]

	var expired, done atomic.Bool
	defer done.Store(true)
	timer := time.AfterFunc(probeDeadline, func() {
		expired.Store(true)
		*immediateExit = 1
		for i := 0; i < 1000 && !done.Load(); i++ {
			unix.Tgkill(os.Getpid(), tid, unix.SIGURG)
			time.Sleep(time.Millisecond)
		}
	})
	defer timer.Stop()
	start := time.Now()
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(cpu), kvmRun, 0)
		took := time.Since(start)
		if expired.Load() {
			return "", &KVMError{StageSpeed, fmt.Errorf("a %d-iteration loop did not finish in %v; hardware virtualization runs it in a few ms", probeLoops, probeDeadline)}
		}
		if e == unix.EINTR {
			continue // the Go scheduler's own preemption signal
		}
		if e != 0 {
			return "", &KVMError{StageRun, fmt.Errorf("KVM_RUN: %w", e)}
		}
		switch *exitReason {
		case kvmExitIntr:
			continue
		case kvmExitIO:
			port := *(*uint16)(unsafe.Pointer(&run[34]))
			off := *(*uint64)(unsafe.Pointer(&run[40]))
			if port != probePort || off >= uint64(len(run)) || run[off] != 'K' {
				return "", &KVMError{StageRun, fmt.Errorf("unexpected I/O exit on port %#x", port)}
			}
			return fmt.Sprintf("KVM ran a %d-iteration probe loop in %v", probeLoops, took.Round(10*time.Microsecond)), nil
		case kvmExitHLT:
			return "", &KVMError{StageRun, errors.New("guest halted before its I/O")}
		default:
			return "", &KVMError{StageRun, fmt.Errorf("unexpected exit reason %d", *exitReason)}
		}
	}
}
