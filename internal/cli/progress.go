package cli

// startWait shows a spinner with what is awaited and the time elapsed while a long call runs,
// on a terminal that can animate (never in a pipe, never with --quiet), and returns the func
// that clears it; call it before printing the result. The call's own progress messages
// (waitOptions) then update the spinner instead of printing lines.
func startWait(f *Factory, what string) func() {
	sp := f.IOStreams.StartSpinner(what)
	return sp.Stop
}
