package console

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sessionCookie returns a sealed session cookie for login in role, as the
// callback sets it.
func (r *rig) sessionCookie(login string, role Role) *http.Cookie {
	r.t.Helper()
	rec := httptest.NewRecorder()
	s := &session{Subject: "sub-" + login, Login: login, Role: role, Expires: r.c.now().Add(r.c.ttl)}
	if err := r.c.setCookie(rec, r.c.sessionCookie(), s, s.Expires); err != nil {
		r.t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// An upload larger than MaxUpload is refused having read at most
// MaxUpload and the multipart overhead of the body: the form is not parsed
// (to memory, then to temporary files) before the bound applies.
func TestUploadBodyIsBoundedBeforeTheFormIsParsed(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxUpload = 1 << 10 })
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("format", "auto")
	fw, _ := mw.CreateFormFile("file", "huge.csv")
	fw.Write(bytes.Repeat([]byte("someone@example.com\n"), 400<<10)) // 8 MiB
	mw.Close()
	sent := int64(buf.Len())
	body := &countingReader{r: &buf}
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/batch", body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(r.sessionCookie("root@example.com", RoleAdmin))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /batch of %d bytes = %d, want 413", sent, rec.Code)
	}
	if limit := r.c.maxUpload + multipartOverhead + 64<<10; body.n > limit {
		t.Errorf("the console read %d bytes of a %d-byte upload, want at most %d (MaxUpload %d)", body.n, sent, limit, r.c.maxUpload)
	}
	if !r.auditHas("root@example.com", "batch upload", outcomeRefused) {
		t.Error("the refused upload is not audited")
	}
}
