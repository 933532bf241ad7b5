// Package workload is the box's one supervisor of workloads, VMs and
// containers alike.
//
// A Workload is one VM or container that runs one run at a time: Start
// returns once it runs, Done is closed when the run ended, Err says how,
// and Stop ends it the way its kind does. VM and Container adapt a
// *vmm.Guest and a *containers.Supervisor; neither of them restarts
// anything.
//
// A Pool runs one kind of workload and owns everything around the runs:
// the diff of the desired workloads (Want: a name, a comparable spec Key,
// a restart Policy and a constructor) against the running ones, where an
// unchanged workload keeps running untouched with its process and
// restart count; the config order; restarts by the policy with Backoff
// after a run that ended on its own, and their count; the held state of
// a workload stopped on request, kept through applies until a start
// request; start, stop and restart requests; log following that carries
// on across restarts and replacements; one Status type for both kinds,
// for the API and the ready line; and stopping everything at shutdown, in
// parallel, within a deadline.
//
// The pool has no package-level state and takes its logger. Every
// goroutine it starts recovers from a panic: a panic in a workload's
// supervision is logged and the workload shown as failed, and PID 1 goes
// on. It does not read the config: its caller turns the config into
// Wants.
package workload
