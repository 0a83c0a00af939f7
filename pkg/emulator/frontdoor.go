package emulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/frontdoor"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// FrontDoorOptions make the emulator stand in for Google's front door: the same APIs over
// TLS, with a certificate authority it generates, plus the endpoints that issue credentials
// (an OAuth 2.0 token endpoint at /token, a GCE metadata server under /computeMetadata/v1/,
// the STS token exchange at /v1/token and IAM Credentials' generateAccessToken), and a check
// of the credential of every API call.
//
// One port serves it all. A connection that starts with a TLS handshake is TLS: a client
// that offers HTTP/1.1 in ALPN (Go's net/http, curl) gets HTTP/1.1 and the REST handlers; a
// gRPC client (it offers only h2) gets HTTP/2 and the gRPC services. A plain-HTTP
// connection reaches only the metadata server (whose clients speak plain HTTP to
// GCE_METADATA_HOST, as on a VM) and the control surface; plain gRPC is refused.
type FrontDoorOptions struct {
	// RequireAuth refuses every API call without a valid credential: UNAUTHENTICATED over
	// gRPC, HTTP 401 over REST, as Google does.
	RequireAuth bool
	// TokenTTL is the lifetime of the access tokens issued (one hour when zero).
	TokenTTL time.Duration
	// CredentialsDir, when set, receives at Start the CA (ca.pem) and credentials of every
	// kind: service-account.json, authorized-user.json, external-account.json (with the
	// subject-token file it reads) and impersonate.json.
	CredentialsDir string
}

// Credential kinds a front door writes, by file name in FrontDoorOptions.CredentialsDir.
const (
	CredentialsCA              = frontdoor.FileCA
	CredentialsServiceAccount  = frontdoor.FileServiceAccount
	CredentialsAuthorizedUser  = frontdoor.FileAuthorizedUser
	CredentialsExternalAccount = frontdoor.FileExternalAccount
	CredentialsSubjectToken    = frontdoor.FileSubjectToken
	CredentialsImpersonate     = frontdoor.FileImpersonate
	// FrontDoorUser is the user authorized-user.json stands for.
	FrontDoorUser = frontdoor.UserEmail
	// FrontDoorControlPrefix is the front door's part of the control surface.
	FrontDoorControlPrefix = ControlPrefix + "auth/"
)

// AuthCall records one API call and the credential it came with; see FrontDoor.
type AuthCall = frontdoor.Call

// TokenIssue records one access token the front door issued.
type TokenIssue = frontdoor.Issue

// FrontDoorIdentities names what the front door issues credentials for.
type FrontDoorIdentities = frontdoor.Identities

// setupFrontDoor builds the front door of e.opts (if any): it adds its interceptors to
// grpcOpts and its control surface to mux, and returns the HTTP handler to serve (mux behind
// the front door's credential check).
func (e *Emulator) setupFrontDoor(grpcOpts *[]grpc.ServerOption, mux *http.ServeMux) (http.Handler, error) {
	o := e.opts.FrontDoor
	if o == nil {
		return mux, nil
	}
	if o.TokenTTL < 0 {
		return nil, fmt.Errorf("negative token lifetime %v", o.TokenTTL)
	}
	fd, err := frontdoor.New(frontdoor.Options{
		RequireAuth: o.RequireAuth, TokenTTL: o.TokenTTL,
		Project: DemoProject, ProjectNumber: world.ProjectNumber(DemoProject),
		ControlPrefix: ControlPrefix, Logger: e.log,
	})
	if err != nil {
		return nil, fmt.Errorf("front door: %w", err)
	}
	e.fd = fd
	e.w.SetDefaultProjectBindings(frontDoorProjectBindings(fd.Identities()))
	*grpcOpts = append(*grpcOpts, grpc.ChainUnaryInterceptor(fd.UnaryInterceptor()), grpc.ChainStreamInterceptor(fd.StreamInterceptor()))
	mux.Handle(FrontDoorControlPrefix, fd.ControlHandler(FrontDoorControlPrefix))
	return fd.Handler(mux), nil
}

// frontDoorProjectBindings are the roles the identities the front door issues credentials
// for hold on every project whose policy was never set, as the projects' creators: Owner,
// except the Compute Engine default service account (the metadata server's), which Google
// makes an Editor of its project. The locked service account holds nothing.
func frontDoorProjectBindings(id frontdoor.Identities) []world.Binding {
	return []world.Binding{
		{Role: "roles/owner", Members: []string{
			"user:" + id.User, "serviceAccount:" + id.KeyServiceAccount, "serviceAccount:" + id.TargetServiceAccount, id.WIFPrincipal,
		}},
		{Role: "roles/editor", Members: []string{"serviceAccount:" + id.MetadataServiceAccount}},
	}
}

// inProcessListener is the listener of the REST gateway's in-process connection: with a
// front door, marked so that the gRPC interceptors trust the caller it carries.
func (e *Emulator) inProcessListener() net.Listener {
	if e.fd == nil {
		return e.local
	}
	return frontdoor.InProcessListener(e.local)
}

// inProcessDialOptions make the in-process connection carry the caller the front door found.
func (e *Emulator) inProcessDialOptions() []grpc.DialOption {
	if e.fd == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(frontdoor.ForwardCallerUnary()), grpc.WithChainStreamInterceptor(frontdoor.ForwardCallerStream())}
}

// startFrontDoor tells the front door its address and writes the CA and credentials files.
func (e *Emulator) startFrontDoor(addr string) error {
	if e.fd == nil {
		return nil
	}
	e.fd.SetAddr(addr)
	dir := e.opts.FrontDoor.CredentialsDir
	if dir != "" {
		if err := e.fd.WriteCredentials(dir); err != nil {
			return fmt.Errorf("front door: %w", err)
		}
		abs, err := filepath.Abs(filepath.Join(dir, frontdoor.FileCA))
		if err != nil {
			return fmt.Errorf("front door: %w", err)
		}
		e.caFile = abs
		return nil
	}
	tmp, err := os.MkdirTemp("", "runnet-emulator-ca-")
	if err != nil {
		return fmt.Errorf("front door: %w", err)
	}
	e.caTemp = tmp
	e.caFile = filepath.Join(tmp, frontdoor.FileCA)
	if err := os.WriteFile(e.caFile, e.fd.CAPEM(), 0o600); err != nil {
		return fmt.Errorf("front door: write the CA: %w", err)
	}
	return nil
}

func (e *Emulator) closeFrontDoor() {
	if e.caTemp != "" {
		_ = os.RemoveAll(e.caTemp)
	}
}

// TLS reports whether the emulator serves its APIs over TLS (FrontDoorOptions).
func (e *Emulator) TLS() bool { return e.fd != nil }

// CAFile is the PEM file of the certificate authority to trust (SSL_CERT_FILE), once
// started with a front door; "" otherwise. Without a credentials dir it is a temporary file
// removed by Close.
func (e *Emulator) CAFile() string { return e.caFile }

// CAPool holds the front door's certificate authority (nil without a front door).
func (e *Emulator) CAPool() *x509.CertPool {
	if e.fd == nil {
		return nil
	}
	return e.fd.CAPool()
}

// TokenURI is the front door's OAuth 2.0 token endpoint, https://HOST:PORT/token ("" without
// a front door).
func (e *Emulator) TokenURI() string {
	if e.fd == nil {
		return ""
	}
	return e.fd.TokenURI()
}

// AuthCalls returns every API call the front door saw, oldest first, with its principal.
func (e *Emulator) AuthCalls() []AuthCall {
	if e.fd == nil {
		return nil
	}
	return e.fd.Calls()
}

// IDTokenIssue records one ID token the front door signed.
type IDTokenIssue = frontdoor.IDTokenIssue

// IDTokensIssued returns the ID tokens the front door signed (for Cloud Run URLs), oldest
// first.
func (e *Emulator) IDTokensIssued() []IDTokenIssue {
	if e.fd == nil {
		return nil
	}
	return e.fd.IDTokensIssued()
}

// ResetAuthCalls forgets the calls AuthCalls returns.
func (e *Emulator) ResetAuthCalls() {
	if e.fd != nil {
		e.fd.ResetCalls()
	}
}

// TokensIssued returns every access token the front door issued, oldest first.
func (e *Emulator) TokensIssued() []TokenIssue {
	if e.fd == nil {
		return nil
	}
	return e.fd.Issued()
}

// ExpireTokens makes every access token issued so far expire now, and returns how many.
func (e *Emulator) ExpireTokens() int {
	if e.fd == nil {
		return 0
	}
	return e.fd.ExpireTokens()
}

// IssueExpiredTokens makes the access tokens issued from now on expired on arrival (while
// their clients are told the usual lifetime), until called with false.
func (e *Emulator) IssueExpiredTokens(on bool) {
	if e.fd != nil {
		e.fd.IssueExpired(on)
	}
}

// RevokeCredentials revokes every credential of principal (an IAM member such as
// user:EMAIL or serviceAccount:EMAIL; every principal when ""), until RestoreCredentials.
func (e *Emulator) RevokeCredentials(principal string) {
	if e.fd != nil {
		e.fd.Revoke(principal)
	}
}

// RestoreCredentials undoes RevokeCredentials.
func (e *Emulator) RestoreCredentials() {
	if e.fd != nil {
		e.fd.Restore()
	}
}

// Identities names what the front door issues credentials for.
func (e *Emulator) Identities() FrontDoorIdentities {
	if e.fd == nil {
		return FrontDoorIdentities{}
	}
	return e.fd.Identities()
}

// routeConn hands a new connection to the gRPC or the HTTP server. Without a front door it
// is route. With one, a TLS connection is handshaken here and handed over by its ALPN
// protocol (h2: gRPC); a plain one goes to the HTTP server (metadata and control only) unless
// it speaks HTTP/2, which is closed: Google's APIs are not served in the clear.
func (e *Emulator) routeConn(c net.Conn, grpcL, httpL *chanListener) {
	if e.fd == nil {
		route(c, grpcL, httpL)
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 64)
	first, err := br.Peek(1)
	if err != nil {
		_ = c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if first[0] != 0x16 { // not a TLS handshake record
		_ = c.SetReadDeadline(time.Time{})
		route(pc, closingListener{}, httpL)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	tc := tls.Server(pc, e.fd.TLSConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		e.log.Debug("front door: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		grpcL.deliver(tc)
		return
	}
	httpL.deliver(tc)
}

// TLSConfig is a client TLS configuration that trusts the front door's CA (nil without a
// front door).
func (e *Emulator) TLSConfig() *tls.Config {
	if e.fd == nil {
		return nil
	}
	return &tls.Config{RootCAs: e.fd.CAPool(), MinVersion: tls.VersionTLS12}
}

func (e *Emulator) frontDoorGRPCOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(e.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewTLS(e.TLSConfig()))),
	}
}

func (e *Emulator) frontDoorComputeOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("https://" + e.Addr() + "/compute/v1/"),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: e.TLSConfig()}}),
	}
}

// closingListener closes the connections delivered to it.
type closingListener struct{}

func (closingListener) deliver(c net.Conn) { _ = c.Close() }
