package vswitch

// BeforeExec makes s call f with each action's text and link just before
// it runs, so that a test can change the kernel's links between the plan
// and the action.
func BeforeExec(s *Switch, f func(act, link string)) {
	s.beforeExec = func(a action) { f(a.String(), a.Link) }
}
