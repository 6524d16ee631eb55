package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preenroll/preenroll/internal/logpace"
)

// CertCheckInterval is how often, at most, serve looks at the modification
// times of [Config].TLSCertFile and TLSKeyFile to reload a renewed pair.
const CertCheckInterval = time.Minute

// maxTLSFile bounds a certificate or key file (a chain of a few
// certificates is a few kilobytes).
const maxTLSFile = 1 << 20

// CheckTLSFiles loads the certificate and key files as serve does at
// start. Its error is a [*TLSFileError] naming the file that cannot be
// read or parsed (the key file when it does not match the certificate),
// and never holds the key's content.
func CheckTLSFiles(certFile, keyFile string) error {
	_, err := loadTLSPair(certFile, keyFile)
	return err
}

// TLSFileError is the error of a TLS certificate or key file that does
// not load: unreadable, not PEM, or a key that is not the certificate's.
// Err names no key material.
type TLSFileError struct {
	// Key says the key file failed (else the certificate file).
	Key bool
	// File is the file's path.
	File string
	// Err is what is wrong with it.
	Err error
}

func (e *TLSFileError) Error() string {
	what := "certificate"
	if e.Key {
		what = "key"
	}
	return fmt.Sprintf("serve: TLS %s file %s: %v", what, e.File, e.Err)
}

func (e *TLSFileError) Unwrap() error { return e.Err }

// loadTLSPair reads and parses a PEM certificate chain and its private
// key (tls.X509KeyPair's errors name no key material). The server's
// certificate is parsed once, by tls.X509KeyPair, which sets Leaf.
func loadTLSPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := readTLSFile(certFile)
	if err != nil {
		return nil, &TLSFileError{File: certFile, Err: err}
	}
	keyPEM, err := readTLSFile(keyFile)
	if err != nil {
		return nil, &TLSFileError{Key: true, File: keyFile, Err: err}
	}
	defer clear(keyPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// A certificate file holding no certificate, or a bad one, is
		// the certificate's problem, even when X509KeyPair found the
		// key's first.
		if cerr := checkFirstCertificate(certPEM); cerr != nil {
			return nil, &TLSFileError{File: certFile, Err: cerr}
		}
		return nil, &TLSFileError{Key: true, File: keyFile, Err: fmt.Errorf("%w (the certificate's: %s)", err, certFile)}
	}
	if cert.Leaf == nil {
		// GODEBUG=x509keypairleaf=0 keeps X509KeyPair from setting it.
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, &TLSFileError{File: certFile, Err: fmt.Errorf("not a certificate: %w", err)}
		}
	}
	return &cert, nil
}

// checkFirstCertificate checks that data's first PEM certificate (the
// server's) parses, to tell a certificate file's problem from its key's.
func checkFirstCertificate(data []byte) error {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return errors.New("no PEM CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return fmt.Errorf("not a certificate: %w", err)
			}
			return nil
		}
	}
}

// readTLSFile reads a certificate or key file of at most maxTLSFile bytes;
// its errors do not repeat the path (TLSFileError names it).
func readTLSFile(path string) ([]byte, error) {
	withoutPath := func(err error) error {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return pe.Err
		}
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, withoutPath(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTLSFile+1))
	if err != nil {
		return nil, withoutPath(err)
	}
	if len(data) > maxTLSFile {
		clear(data)
		return nil, fmt.Errorf("larger than %d bytes", maxTLSFile)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty")
	}
	return data, nil
}

// fileStamp is what serve compares to tell that a file changed: its
// modification time and size (zero when it cannot be read).
type fileStamp struct {
	mod  time.Time
	size int64
}

// stamp returns path's fileStamp (following symbolic links, as certbot's
// live/ directory and a Kubernetes secret volume use them).
func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// pairStamp is the stamps of a certificate file and its key file.
type pairStamp struct{ cert, key fileStamp }

// certReloader serves a TLS certificate from files and reloads it when
// they change (certbot and cert-manager renew in place): its
// GetCertificate looks at the files' modification times at most every
// CertCheckInterval, and loads the pair again when they changed. A pair
// that does not load (unreadable, or a renewal that wrote the certificate
// and not yet the key) leaves the old one served, is logged at warn level
// once per change, and is tried again at the next check. One handshake at
// a time looks at the files; the others, and the metrics, are served the
// current pair meanwhile, so a slow or hung disk delays that one only.
type certReloader struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	cert atomic.Pointer[tls.Certificate] // the pair served

	mu      sync.Mutex // held by the handshake looking at the files
	loaded  pairStamp  // the stamps of the files cert was read from
	checked time.Time  // the last look at the files
	warned  pairStamp  // the stamps of the last broken pair logged
}

// newCertReloader loads the pair (an error names the file) and logs what
// it loaded.
func newCertReloader(certFile, keyFile string, now func() time.Time, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, now: now, log: log}
	st := r.stamps()
	cert, err := loadTLSPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	r.loaded, r.checked = st, now()
	r.logLoaded("serve: TLS certificate loaded")
	return r, nil
}

// stamps returns the files' stamps.
func (r *certReloader) stamps() pairStamp {
	return pairStamp{cert: stamp(r.certFile), key: stamp(r.keyFile)}
}

// GetCertificate is the tls.Config's: the current pair, reloaded first
// when a check is due and the files changed. While another handshake
// looks at the files it does not wait: it returns the current pair.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !r.mu.TryLock() {
		return r.cert.Load(), nil
	}
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < CertCheckInterval {
		return r.cert.Load(), nil
	}
	r.checked = now
	st := r.stamps()
	if st == r.loaded {
		return r.cert.Load(), nil
	}
	cert, err := loadTLSPair(r.certFile, r.keyFile)
	if err != nil {
		if st != r.warned {
			r.warned = st
			r.log.Warn("serve: TLS certificate files changed but do not load: still serving the previous certificate; trying again in a minute",
				"error", err.Error(), "notAfter", r.cert.Load().Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return r.cert.Load(), nil
	}
	r.cert.Store(cert)
	r.loaded, r.warned = st, pairStamp{}
	r.logLoaded("serve: TLS certificate reloaded")
	return cert, nil
}

// current returns the pair served now (without a check, never waiting
// for one).
func (r *certReloader) current() *tls.Certificate { return r.cert.Load() }

// logLoaded logs the loaded certificate's names and validity; a
// certificate already expired (or not yet valid) is logged at warn level.
func (r *certReloader) logLoaded(msg string) {
	leaf := r.cert.Load().Leaf
	level := slog.LevelInfo
	if now := r.now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		level, msg = slog.LevelWarn, msg+" (outside its validity period)"
	}
	r.log.Log(context.Background(), level, msg, "file", r.certFile, "subject", leaf.Subject.String(), "dnsNames", leaf.DNSNames,
		"notBefore", leaf.NotBefore.UTC().Format(time.RFC3339), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
}

// pinnedClient is the HTTP client of the demo's fake Okta delivering to
// serve's own https hook: it trusts exactly the certificate serve serves
// at the time of the handshake (whatever its names and issuer: the demo
// delivers to the listening IP address, which a real certificate does not
// name), and follows no redirects, as Okta does not.
func (r *certReloader) pinnedClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Not by names and roots: VerifyConnection pins the certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, r.current().Certificate[0]) {
				return errors.New("serve: demo: the hook's certificate is not the one serve serves")
			}
			return nil
		},
	}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// handshakeWarnEvery is how often, at most, a failed TLS handshake is
// logged at warn level.
const handshakeWarnEvery = time.Minute

// httpErrorLog is the HTTP server's ErrorLog: its lines go to serve's log
// at warn level. A failed TLS handshake (a scanner, a client that does not
// trust the certificate: one sent without its chain, say) is something
// anybody who reaches the port can cause, so its warnings are paced: the
// first at once, then at most one per handshakeWarnEvery (by now), each
// counting the failures since the previous one, which are logged at
// debug level only.
type httpErrorLog struct {
	log        *slog.Logger
	now        func() time.Time
	handshakes *logpace.Pacer
}

func newHTTPErrorLog(log *slog.Logger, now func() time.Time) httpErrorLog {
	return httpErrorLog{log: log, now: now, handshakes: &logpace.Pacer{Every: handshakeWarnEvery}}
}

func (h httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if !strings.Contains(msg, "TLS handshake error") {
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "serve: HTTP server", slog.String("error", msg))
		return len(p), nil
	}
	attrs := []slog.Attr{slog.String("error", msg)}
	if strings.Contains(msg, "remote error: tls:") && strings.Contains(msg, "certificate") {
		// The client sent an alert about the certificate it was served.
		attrs = append(attrs, slog.String("hint", "the client refused the certificate: if it is one that must reach serve (Okta, a browser), "+
			"check that the certificate file holds the chain (the server's certificate, then the intermediates) and names the host the client asked for"))
	}
	warn, suppressed := h.handshakes.Allow(h.now())
	if !warn {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, "serve: TLS handshake failed", attrs...)
		return len(p), nil
	}
	attrs = append(attrs, slog.Int("suppressed", suppressed))
	h.log.LogAttrs(context.Background(), slog.LevelWarn,
		"serve: TLS handshake failed (at most one warning a minute; the others at debug level)", attrs...)
	return len(p), nil
}
