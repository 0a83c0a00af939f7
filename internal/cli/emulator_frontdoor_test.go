package cli

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// The front door's flags need --tls, and a token lifetime of at least a second.
func TestEmulatorStartFrontDoorFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls", "--require-auth", "--credentials-dir", "d", "--token-ttl", "30s"}, 0, ""},
		{[]string{"--require-auth"}, exitcode.Usage, "--require-auth needs --tls"},
		{[]string{"--credentials-dir", "d"}, exitcode.Usage, "--credentials-dir needs --tls"},
		{[]string{"--token-ttl", "5m"}, exitcode.Usage, "--token-ttl needs --tls"},
		{[]string{"--tls", "--token-ttl", "500ms"}, exitcode.Usage, "--token-ttl: must be at least 1s, got 500ms"},
	} {
		var got *EmulatorStartOptions
		r := runStubbed(t, "start", func(f *Factory) *cobra.Command {
			return NewCmdEmulatorStart(f, func(_ context.Context, o *EmulatorStartOptions) error { got = o; return nil })
		}, append([]string{"start"}, tc.args...)...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) || (tc.code == 0) != (got != nil) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.Code, r.Stderr)
		}
		if tc.code == 0 && (!got.TLS || !got.RequireAuth || got.CredentialsDir != "d" || got.TokenTTL != 30*time.Second) {
			t.Errorf("%v: options %+v", tc.args, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `runnet emulator start --tls --credentials-dir DIR` prints the host, the CA and the token
// URI, and writes a credentials file of every kind.
func TestEmulatorStartTLSPrintsThreeLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	streams, _, _, _ := iostreams.Test()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	streams.Out, streams.ErrOut = out, errOut
	f := NewFactory(streams, harness.Hermetic(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- ExecuteFactory(ctx, f, []string{"emulator", "start", "--seed", "demo", "--tls", "--require-auth", "--credentials-dir", dir})
	}()
	var lines []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if lines = strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) == 3 {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out.String(), errOut.String())
	}
	host, ok1 := strings.CutPrefix(lines[0], EnvEmulatorHost+"=")
	ca, ok2 := strings.CutPrefix(lines[1], EnvEmulatorCA+"=")
	uri, ok3 := strings.CutPrefix(lines[2], EnvEmulatorTokenURI+"=")
	if !ok1 || !ok2 || !ok3 || !strings.HasPrefix(host, "127.0.0.1:") || uri != "https://"+host+"/token" || ca != filepath.Join(dir, "ca.pem") {
		t.Fatalf("lines %q", lines)
	}
	b, err := os.ReadFile(ca)
	if blk, _ := pem.Decode(b); err != nil || blk == nil || blk.Type != "CERTIFICATE" {
		t.Errorf("CA %s: %v", ca, err)
	}
	for _, name := range []string{"service-account.json", "authorized-user.json", "external-account.json", "external-account-token.jwt", "impersonate.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, st, err)
		}
	}
}
