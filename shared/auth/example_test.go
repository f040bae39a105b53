package auth_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/runyard/runyard/shared/auth"
)

// An authenticator routes the extracted credential to the right verifier.
func ExampleFromRequest() {
	r := httptest.NewRequest("GET", "/start", nil)
	r.Header.Set("X-API-Key", "ryk_acme_abcdefgh2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

	cred, err := auth.FromRequest(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	switch {
	case cred.Kind == auth.CredentialAPIKey:
		tenant, keyID, err := auth.ParseAPIKey(cred.Value)
		if err != nil {
			fmt.Println(err)
			return
		}
		// Look up the stored hash for (tenant, keyID), then auth.MatchAPIKey(cred.Value, hash).
		fmt.Println("api key", tenant, keyID, cred)
	case auth.DevTokenLooksLike(cred.Value):
		fmt.Println("dev token: DevTokens.Verify on the local stack, rejected in the cloud")
	default:
		fmt.Println("Google ID token: IDTokenVerifier.Verify")
	}
	// Output: api key acme abcdefgh2345 api_key:REDACTED
}
