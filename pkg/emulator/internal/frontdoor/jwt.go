package frontdoor

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// jwtHeader and jwtClaims are the parts of a JWS the front door reads: what Google's Go
// libraries put in a self-signed JWT or a JWT-bearer assertion (iss, sub, aud or scope, iat,
// exp), and what an OIDC provider puts in the ID token that workload identity federation
// exchanges.
type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub,omitempty"`
	Aud   string `json:"aud,omitempty"`
	Scope string `json:"scope,omitempty"`
	// TargetAudience asks the token endpoint for an ID token instead of an access token.
	TargetAudience string `json:"target_audience,omitempty"`
	Iat            int64  `json:"iat"`
	Exp            int64  `json:"exp"`
}

var b64 = base64.RawURLEncoding

// signJWT returns the RS256 JWS of claims, with kid in its header.
func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", Kid: kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return signed + "." + b64.EncodeToString(sig), nil
}

// looksLikeJWT reports whether s has the three dot-separated parts of a JWS, the first a
// JSON object.
func looksLikeJWT(s string) bool {
	h, _, ok := strings.Cut(s, ".")
	if !ok || strings.Count(s, ".") != 2 {
		return false
	}
	b, err := b64.DecodeString(h)
	return err == nil && len(b) > 0 && b[0] == '{'
}

// parseJWT splits a JWS and decodes its header and claims, without checking the signature.
func parseJWT(tok string) (h jwtHeader, c jwtClaims, signed string, sig []byte, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return h, c, "", nil, errors.New("not a JWT")
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return h, c, "", nil, fmt.Errorf("malformed JWT: %w", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, c, "", nil, fmt.Errorf("malformed JWT header: %w", err)
	}
	if err := json.Unmarshal(cb, &c); err != nil {
		return h, c, "", nil, fmt.Errorf("malformed JWT claims: %w", err)
	}
	return h, c, parts[0] + "." + parts[1], sig, nil
}

// verifyRS256 checks the signature of a JWS signed with RS256.
func verifyRS256(pub *rsa.PublicKey, h jwtHeader, signed string, sig []byte) error {
	if h.Alg != "RS256" {
		return fmt.Errorf("unsupported JWT algorithm %q", h.Alg)
	}
	sum := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("invalid JWT signature")
	}
	return nil
}
