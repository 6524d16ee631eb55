package sdkcompat

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/preenroll/preenroll/okta/oktatest"
)

// newSDK returns an SDK client for srv with the cache off and 429 retries
// off; extra setters are applied last.
func newSDK(t *testing.T, srv *oktatest.Server, extra ...sdk.ConfigSetter) *sdk.APIClient {
	t.Helper()
	return newSDKWith(t, srv, &http.Client{Timeout: 10 * time.Second}, extra...)
}

func newSDKWith(t *testing.T, srv *oktatest.Server, hc *http.Client, extra ...sdk.ConfigSetter) *sdk.APIClient {
	t.Helper()
	setters := append([]sdk.ConfigSetter{
		sdk.WithOrgUrl(srv.URL()), sdk.WithToken(srv.Token()), sdk.WithTestingDisableHttpsCheck(true),
		sdk.WithCache(false), sdk.WithRateLimitMaxRetries(0), sdk.WithHttpClientPtr(hc),
	}, extra...)
	cfg, err := sdk.NewConfiguration(setters...)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host = u.Host // NewConfiguration keeps the host name only, without the port
	return sdk.NewAPIClient(cfg)
}

// apiError is the Okta error body of an SDK error.
type apiError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

// oktaError returns the HTTP status and Okta error body of a failed call.
func oktaError(t *testing.T, resp *sdk.APIResponse, err error) (int, apiError) {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	var ge *sdk.GenericOpenAPIError
	if !errors.As(err, &ge) {
		t.Fatalf("error %T %v is not a *GenericOpenAPIError", err, err)
	}
	var body apiError
	if jerr := json.Unmarshal(ge.Body(), &body); jerr != nil {
		t.Fatalf("error body %q: %v", ge.Body(), jerr)
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	return status, body
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// userIDs returns the IDs of users.
func userIDs(users []sdk.User) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, deref(u.Id))
	}
	return out
}

// createUser creates a user through the SDK.
func createUser(t *testing.T, c *sdk.APIClient, login, first, last string, activate bool) *sdk.User {
	t.Helper()
	p := sdk.NewUserProfile()
	p.SetLogin(login)
	p.SetEmail(login)
	p.SetFirstName(first)
	p.SetLastName(last)
	u, _, err := c.UserAPI.CreateUser(t.Context()).Body(sdk.CreateUserRequest{Profile: *p}).Activate(activate).Execute()
	if err != nil {
		t.Fatalf("CreateUser %s: %v", login, err)
	}
	return u
}

// links returns the Link header lines of a response.
func links(resp *sdk.APIResponse) []string { return resp.Header.Values("Link") }

// listRequest is a list request of the Okta SDK taking the q, search and
// filter parameters (ApiListUsersRequest, ApiListGroupsRequest).
type listRequest[R any] interface {
	Q(string) R
	Search(string) R
	Filter(string) R
}

// withQuery sets the parameters of req that are not empty.
func withQuery[R listRequest[R]](req R, q, search, filter string) R {
	if q != "" {
		req = req.Q(q)
	}
	if search != "" {
		req = req.Search(search)
	}
	if filter != "" {
		req = req.Filter(filter)
	}
	return req
}
