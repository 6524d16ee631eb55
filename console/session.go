package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Cookies are sealed with AES-256-GCM under a key derived (HKDF-SHA256)
// from Config.SessionKey, the cookie's name bound as additional data: the
// browser can neither read nor change them, nor move one to another name.
// The standard library does it all; no cookie library is needed.

// sealer seals and opens cookie values.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) *sealer {
	key, err := hkdf.Key(sha256.New, secret, nil, "preenroll console cookies v1", 32)
	if err != nil {
		panic(err) // only for a key length SHA-256 cannot give
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &sealer{aead: aead}
}

// seal encrypts v (as JSON) for the cookie name.
func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

var errBadCookie = errors.New("console: cookie does not open")

// open decrypts a value sealed for the cookie name into v.
func (s *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errBadCookie
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return errBadCookie
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadCookie
	}
	return nil
}

// session is a signed-in person.
type session struct {
	Subject string    `json:"sub"`
	Login   string    `json:"login"` // preferred_username, else email
	Name    string    `json:"name,omitempty"`
	Role    Role      `json:"role"`
	Expires time.Time `json:"exp"`
}

// Admin reports whether the person may act.
func (s *session) Admin() bool { return s != nil && s.Role == RoleAdmin }

// loginState is what the browser carries between the redirect to the
// provider and the callback.
type loginState struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"` // PKCE code verifier
	Next     string    `json:"next"`     // where to go after sign-in
	Expires  time.Time `json:"exp"`
}

// Cookie names: with Secure cookies the __Host- prefix pins them to this
// host and path "/".
func (c *console) sessionCookie() string {
	if c.secure {
		return "__Host-preenroll-session"
	}
	return "preenroll-session"
}

func (c *console) stateCookie() string {
	if c.secure {
		return "__Host-preenroll-login"
	}
	return "preenroll-login"
}

// setCookie seals v into the cookie name, expiring at exp.
func (c *console) setCookie(w http.ResponseWriter, name string, v any, exp time.Time) error {
	val, err := c.cookies.seal(name, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: val, Path: "/", Expires: exp, MaxAge: int(exp.Sub(c.now()).Seconds()),
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// clearCookie deletes the cookie name.
func (c *console) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the request's unexpired session, or nil.
func (c *console) currentSession(r *http.Request) *session {
	ck, err := r.Cookie(c.sessionCookie())
	if err != nil {
		return nil
	}
	var s session
	if c.cookies.open(c.sessionCookie(), ck.Value, &s) != nil || !c.now().Before(s.Expires) {
		return nil
	}
	if s.Role != RoleAdmin && s.Role != RoleReadOnly {
		return nil
	}
	return &s
}

// signedIn wraps a page: no session sends a GET to sign-in (and refuses
// anything else); admin pages refuse read-only sessions.
func (c *console) signedIn(h func(http.ResponseWriter, *http.Request, *session), admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.currentSession(r)
		if s == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, c.base+"/auth/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.problem(w, r, nil, http.StatusUnauthorized, "Signed out",
				"Your session has ended. Sign in again, then repeat what you were doing.")
			return
		}
		if admin && !s.Admin() {
			c.record(r, s, actionFor(r), r.PathValue("id"), outcomeRefused, "read-only access")
			c.problem(w, r, s, http.StatusForbidden, "Not allowed",
				"You may look but not act: only members of the group "+c.oidc.AdminGroup+" may do this.")
			return
		}
		h(w, r, s)
	})
}
