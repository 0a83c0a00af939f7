package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// `runnet emulator start --background` serves from a process of its own and returns as soon as
// it is ready, so that a shell can take the address with
//
//	eval "$(runnet emulator start --seed demo --background)"
//
// (`eval "$(runnet emulator start &)"` never returns: the command substitution waits for the
// end of the server's output, which comes only when the server stops.) It prints
//
//	export RUNNET_EMULATOR_HOST=127.0.0.1:PORT
//	export RUNNET_EMULATOR_PID=PID
//
// on stdout, and on stderr where the server logs and how to stop it (kill "$RUNNET_EMULATOR_PID":
// SIGTERM writes --state and exits).

// backgroundReadyTimeout bounds how long --background waits for the server's address.
const backgroundReadyTimeout = time.Minute

func (o *EmulatorStartOptions) runBackground(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--background: find runnet's executable: %w", err)
	}
	args := []string{"emulator", "start"}
	o.cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name == "background" {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+fl.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+fl.Name+"="+fl.Value.String())
	})
	logFile, err := os.CreateTemp("", "runnet-emulator-*.log")
	if err != nil {
		return fmt.Errorf("--background: create the server's log file: %w", err)
	}
	defer logFile.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("--background: %w", err)
	}
	defer devNull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("--background: %w", err)
	}
	defer pr.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, pw, logFile
	cmd.SysProcAttr = detachedProcess()
	if err := cmd.Start(); err != nil {
		_ = pw.Close()
		return fmt.Errorf("--background: start the server: %w", err)
	}
	_ = pw.Close() // the server holds the write end now

	type line struct {
		s   string
		err error
	}
	// The server's first line is its address; with --tls two more follow (the CA to trust and
	// the token endpoint), each passed on as an export too.
	want := 1
	if o.TLS {
		want = 3
	}
	got := make(chan line, 1)
	go func() {
		rd := bufio.NewReader(pr)
		var all string
		for range want {
			s, err := rd.ReadString('\n')
			all += s
			if err != nil {
				got <- line{all, err}
				return
			}
		}
		got <- line{all, nil}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(why string) error {
		_ = cmd.Process.Kill()
		b, _ := os.ReadFile(logFile.Name())
		msg := strings.TrimSpace(string(b))
		if msg != "" {
			msg = ":\n" + msg
		}
		return fmt.Errorf("--background: the emulator %s (log %s)%s", why, logFile.Name(), msg)
	}
	select {
	case l := <-got:
		lines := strings.Split(strings.TrimSpace(l.s), "\n")
		host, ok := strings.CutPrefix(lines[0], EnvEmulatorHost+"=")
		if ok && len(lines) < want {
			ok = false
		}
		if !ok {
			if errors.Is(l.err, io.EOF) {
				<-exited
				return fail("stopped before it was ready")
			}
			return fail(fmt.Sprintf("printed %q instead of its address", l.s))
		}
		fmt.Fprintf(o.f.IOStreams.Out, "export %s=%s\nexport %s=%d\n", EnvEmulatorHost, host, EnvEmulatorPID, cmd.Process.Pid)
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, "="); ok {
				fmt.Fprintf(o.f.IOStreams.Out, "export %s=%s\n", k, shellQuote(v))
			}
		}
		if !o.f.Options.Quiet {
			fmt.Fprintf(o.f.IOStreams.ErrOut, "The emulator serves on %s in the background (pid %d, log %s); stop it with: kill \"$%s\"\n",
				host, cmd.Process.Pid, logFile.Name(), EnvEmulatorPID)
		}
		_ = cmd.Process.Release()
		return nil
	case <-exited:
		return fail("stopped before it was ready")
	case <-time.After(backgroundReadyTimeout):
		return fail(fmt.Sprintf("was not ready after %s", backgroundReadyTimeout))
	case <-ctx.Done():
		_ = fail("was interrupted")
		return fmt.Errorf("--background: interrupted before the emulator was ready: %w", ctx.Err())
	}
}

// EnvEmulatorPID is the variable `runnet emulator start --background` sets to the server's
// process id.
const EnvEmulatorPID = "RUNNET_EMULATOR_PID"

// shellQuote quotes s for a POSIX shell's eval when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
