package frontdoor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// pki is the front door's certificate authority and the serving certificate it signed.
type pki struct {
	caPEM []byte
	pool  *x509.CertPool
	cert  tls.Certificate
}

// certValidity is how long the generated certificates are valid; a new pair is made at each
// start.
const certValidity = 30 * 24 * time.Hour

// newPKI makes a CA and a serving certificate for the loopback names and addresses
// (127.0.0.1, ::1, localhost, *.localhost) and Cloud Run's URLs (*.a.run.app, and
// *.REGION.run.app of the regions the emulator knows), both ECDSA P-256.
func newPKI(now time.Time) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"runnet emulator"}, CommonName: "runnet emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"runnet emulator"}, CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     append([]string{"localhost", "*.localhost", "*.a.run.app"}, runAppRegionNames()...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  pool,
		cert:  tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// TLSConfig serves the certificate. Its ALPN preference is http/1.1, then h2: a client that
// offers both (Go's net/http, curl) speaks HTTP/1.1 and reaches the REST handlers; a gRPC
// client offers only h2 and gets it.
func (p *pki) tlsConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.cert},
		NextProtos:   []string{"http/1.1", "h2"},
		MinVersion:   tls.VersionTLS12,
	}
}

// runRegions are the regions whose deterministic Cloud Run URLs
// (https://NAME-PROJECT_NUMBER.REGION.run.app) the serving certificate covers.
var runRegions = []string{
	"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1",
	"asia-southeast1", "asia-southeast2", "australia-southeast1", "europe-north1", "europe-west1",
	"europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west9", "me-west1",
	"northamerica-northeast1", "southamerica-east1", "us-central1", "us-east1", "us-east4",
	"us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
}

func runAppRegionNames() []string {
	out := make([]string, 0, len(runRegions))
	for _, r := range runRegions {
		out = append(out, "*."+r+".run.app")
	}
	return out
}
