package cloud

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Without Application Default Credentials every client fails with one and the same clear
// error, UNAUTHENTICATED (exit status 4), and a list of the three workload kinds reports it
// once.
func TestMissingCredentials(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("APPDATA", home)
	c := New(context.Background(), Config{})
	defer c.Close()
	err := c.CheckCredentials()
	if err == nil {
		t.Skip("this machine has default credentials (Compute Engine metadata)")
	}
	var ce *CredentialsError
	if !errors.As(err, &ce) || status.Code(err) != codes.Unauthenticated ||
		err.Error() != "no Google Cloud credentials: run `gcloud auth application-default login`, or use --emulator" {
		t.Fatalf("CheckCredentials: %v", err)
	}
	_, err = c.ListWorkloads(context.Background(), "my-project", "us-central1")
	if !errors.As(err, &ce) || strings.Count(err.Error(), "no Google Cloud credentials") != 1 {
		t.Fatalf("ListWorkloads: %v", err)
	}
	if _, err := c.GetConnector(context.Background(), egress.ConnectorRef{Project: "my-project", Region: "us-central1", Name: "conn"}); !errors.As(err, &ce) {
		t.Fatalf("GetConnector: %v", err)
	}
}

// Credentials that cannot be used (a bad key file) say why.
func TestBadCredentialsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(f, []byte(`{"type": "nonsense"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := New(context.Background(), Config{CredentialsFile: f})
	defer c.Close()
	err := c.CheckCredentials()
	var ce *CredentialsError
	if !errors.As(err, &ce) || status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "cannot use the credentials in "+f+": ") {
		t.Fatalf("CheckCredentials: %v", err)
	}
	// The emulator needs none.
	if err := New(context.Background(), Config{EmulatorHost: "127.0.0.1:1"}).CheckCredentials(); err != nil {
		t.Fatal(err)
	}
}

// With usable Application Default Credentials on disk (a service-account key, an authorized
// user), checking them succeeds: it used to hand a nil error to asCredentialsError, which
// panicked before any command could call an API.
func TestCheckCredentialsWithADC(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p1", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "ci@p1.iam.gserviceaccount.com", "token_uri": "https://127.0.0.1:1/token",
	})
	user, _ := json.Marshal(map[string]string{
		"type": "authorized_user", "client_id": "id", "client_secret": "secret", "refresh_token": "rt",
	})
	for name, b := range map[string][]byte{"service account key": sa, "authorized user": user} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "adc.json")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			c := New(context.Background(), Config{CredentialsFile: f})
			defer c.Close()
			if err := c.CheckCredentials(); err != nil {
				t.Fatalf("CheckCredentials: %v", err)
			}
		})
	}
}
