package labtest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Box is the running box the checks are asked of.
type Box interface {
	// Probe sends c's ping, connect or resolve from c.From and says
	// whether it was answered. An error is a probe that could not run.
	Probe(ctx context.Context, c Check) (Outcome, error)
	// State is a workload's state as status shows it.
	State(ctx context.Context, workload string) (string, error)
}

// Outcome is what one probe found.
type Outcome struct {
	OK      bool
	Detail  string
	Answers []string
}

// Result is one check's verdict.
type Result struct {
	Check  Check
	Pass   bool
	Detail string
	Took   time.Duration
}

// Report is one file's verdicts.
type Report struct {
	File    string
	Results []Result
	Took    time.Duration
}

// Failed counts the checks that did not pass.
func (r Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Pass {
			n++
		}
	}
	return n
}

// Runner runs test files against a box.
type Runner struct {
	Box Box
	Out io.Writer
	// Retry is the pause between tries of a check that must pass.
	Retry time.Duration
}

// Run checks every file and reports each check as it ends, the way go
// test does. Checks that must pass are tried again until the file's
// within has passed; checks that something is unreachable run once, after
// the others, and count only when the same source reached something in
// this file: an isolated workload and one whose network is down look the
// same from a single probe.
func (r *Runner) Run(ctx context.Context, files []*File) []Report {
	var reports []Report
	for _, f := range files {
		start := time.Now()
		deadline := start.Add(f.Within)
		rep := Report{File: f.Path}
		reached := map[string]bool{}
		var later []Check
		for _, c := range f.Checks {
			if c.Expect == Unreachable {
				later = append(later, c)
				continue
			}
			res := r.untilPass(ctx, c, deadline)
			if res.Pass && c.Status == "" {
				reached[c.From] = true
			}
			rep.Results = append(rep.Results, r.print(f, res))
		}
		for _, c := range later {
			var res Result
			if !reached[c.From] {
				res = Result{Check: c, Detail: "no positive control: " + c.From + " reached nothing in this file, so an unanswered probe proves nothing (add a check that " + c.From + " reaches something)"}
			} else {
				res = r.once(ctx, c)
			}
			rep.Results = append(rep.Results, r.print(f, res))
		}
		rep.Took = time.Since(start)
		if n := rep.Failed(); n > 0 {
			fmt.Fprintf(r.Out, "FAIL\t%s\t%d of %d checks failed (%.1fs)\n", f.Path, n, len(rep.Results), rep.Took.Seconds())
		} else {
			fmt.Fprintf(r.Out, "ok  \t%s\t%d checks (%.1fs)\n", f.Path, len(rep.Results), rep.Took.Seconds())
		}
		reports = append(reports, rep)
	}
	return reports
}

func (r *Runner) print(f *File, res Result) Result {
	title := fmt.Sprintf("%s:%d: %s", f.Path, res.Check.Line, res.Check.Title())
	if res.Pass {
		fmt.Fprintf(r.Out, "--- PASS: %s (%.2fs)\n", title, res.Took.Seconds())
	} else {
		fmt.Fprintf(r.Out, "--- FAIL: %s (%.2fs)\n    %s\n", title, res.Took.Seconds(), res.Detail)
	}
	return res
}

// untilPass tries c until it passes or the deadline is gone; the last
// try's detail says why it did not.
func (r *Runner) untilPass(ctx context.Context, c Check, deadline time.Time) Result {
	start := time.Now()
	for {
		res := r.once(ctx, c)
		if res.Pass || time.Now().After(deadline) || ctx.Err() != nil {
			res.Took = time.Since(start)
			return res
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.Retry):
		}
	}
}

// once asks the box one time.
func (r *Runner) once(ctx context.Context, c Check) Result {
	start := time.Now()
	res := Result{Check: c}
	defer func() { res.Took = time.Since(start) }()
	if c.Status != "" {
		st, err := r.Box.State(ctx, c.Status)
		switch {
		case err != nil:
			res.Detail = err.Error()
		case st != c.State:
			res.Detail = fmt.Sprintf("%s is %s, want %s", c.Status, st, c.State)
		default:
			res.Pass = true
		}
		return res
	}
	out, err := r.Box.Probe(ctx, c)
	if err != nil {
		res.Detail = "the probe could not run: " + err.Error()
		return res
	}
	reached := out.OK
	if reached && c.Answer != "" && !slices.Contains(out.Answers, c.Answer) {
		res.Detail = fmt.Sprintf("answered %s, want %s", strings.Join(out.Answers, ", "), c.Answer)
		return res
	}
	if c.Expect == Unreachable {
		res.Pass = !reached
		if reached {
			res.Detail = "reached (" + out.Detail + ")"
		}
		return res
	}
	res.Pass = reached
	if !reached {
		res.Detail = "not reached: " + out.Detail
	}
	return res
}
