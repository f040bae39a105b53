package githubhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// HeaderSignature carries GitHub's HMAC-SHA256 of the raw body: "sha256=<64 hex digits>".
const HeaderSignature = "X-Hub-Signature-256"

// signaturePrefix names the algorithm; GitHub's legacy X-Hub-Signature (sha1=) is not accepted.
const signaturePrefix = "sha256="

// ErrSignature: the signature is missing, malformed, of another algorithm, or wrong.
var ErrSignature = errors.New("githubhook: invalid signature")

// VerifySignature checks header (the X-Hub-Signature-256 value) against the HMAC-SHA256 of
// body keyed with secret, in constant time. An empty secret verifies nothing.
func VerifySignature(header string, body, secret []byte) error {
	hexSig, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(hexSig) != 2*sha256.Size || len(secret) == 0 {
		return ErrSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrSignature
	}
	if !hmac.Equal(got, Sign(body, secret)) {
		return ErrSignature
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body keyed with secret.
func Sign(body, secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

// SignatureHeader is the X-Hub-Signature-256 value GitHub sends for body (tests and tools).
func SignatureHeader(body, secret []byte) string {
	return signaturePrefix + hex.EncodeToString(Sign(body, secret))
}
