// Package local is the secrets port's adapter for the local stack (`make run`): every secret of
// every tenant, with its versions and recorded grants, lives in one file encrypted with
// AES-256-GCM under a key generated on first use.
//
// Files, both mode 0600 in the directory given to New (created 0700):
//
//	secrets.key        32 random bytes, the AES-256 key
//	secrets.json.enc   nonce (12 bytes) || AES-GCM(JSON of all secrets), rewritten atomically
//
// One Manager per directory: a mutex serializes its operations, and nothing coordinates two
// processes. Grants are recorded (Grants) but nothing enforces them locally; the local runtime
// driver injects values it reads with Access.
package local

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runyard/runyard/shared/secrets"
)

// File names inside the directory.
const (
	KeyFile  = "secrets.key"
	DataFile = "secrets.json.enc"
)

// aad binds the ciphertext to its purpose and format version.
var aad = []byte("runyard local secrets v1")

// Manager implements secrets.Manager over an encrypted file.
type Manager struct {
	dir string
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	aead  cipher.AEAD
	state state
}

var _ secrets.Manager = (*Manager)(nil)

// state is the plaintext inside DataFile.
type state struct {
	Secrets map[string]*secret `json:"secrets"` // by secret id
}

type secret struct {
	Tenant    string            `json:"tenant"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"created_at"`
	Versions  []version         `json:"versions"` // Versions[i] is version i+1
	Grants    []string          `json:"grants,omitempty"`
}

type version struct {
	Data      []byte    `json:"data"`
	CreatedAt time.Time `json:"created_at"`
}

// Option configures New.
type Option func(*Manager)

// WithLogger sends one line per change (never a value) to l.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// New opens (or, on first use, creates) the secrets in dir. Existing files with modes looser than
// 0600 are tightened to 0600; a key of the wrong size or a file that does not decrypt is an error.
func New(dir string, opts ...Option) (*Manager, error) {
	m := &Manager{dir: dir, now: time.Now, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(m)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: os.MkdirAll: %w", err)
	}
	key, err := m.loadKey()
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("local: aes.NewCipher: %w", err)
	}
	if m.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("local: cipher.NewGCM: %w", err)
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

// loadKey reads the key file, creating it with 32 random bytes if it does not exist.
func (m *Manager) loadKey() ([]byte, error) {
	p := filepath.Join(m.dir, KeyFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		key := make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		_, werr := f.Write(key)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			_ = os.Remove(p)
			return nil, fmt.Errorf("local: write %s: %w", KeyFile, err)
		}
		m.log.Info("local secrets key created", "path", p)
		return key, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("local: os.OpenFile: %w", err)
	}
	if err := tighten(p); err != nil {
		return nil, err
	}
	key, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("local: os.ReadFile: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("local: %s holds %d bytes, want 32", p, len(key))
	}
	return key, nil
}

// tighten makes p mode 0600 if it is looser.
func tighten(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("local: os.Stat: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("local: os.Chmod: %w", err)
		}
	}
	return nil
}

// load decrypts DataFile into m.state; a missing file is an empty state.
func (m *Manager) load() error {
	m.state = state{Secrets: map[string]*secret{}}
	p := filepath.Join(m.dir, DataFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: os.ReadFile: %w", err)
	}
	if err := tighten(p); err != nil {
		return err
	}
	ns := m.aead.NonceSize()
	if len(b) < ns {
		return fmt.Errorf("local: %s is truncated", p)
	}
	plain, err := m.aead.Open(nil, b[:ns], b[ns:], aad)
	if err != nil {
		return fmt.Errorf("local: %s does not decrypt with %s: %w", p, KeyFile, err)
	}
	if err := json.Unmarshal(plain, &m.state); err != nil {
		// json errors can quote input; the input is secret.
		return fmt.Errorf("local: %s: malformed content", p)
	}
	if m.state.Secrets == nil {
		m.state.Secrets = map[string]*secret{}
	}
	return nil
}

// save encrypts next and replaces DataFile atomically (temp file, fsync, rename); on success
// next becomes the state. Callers hold m.mu.
func (m *Manager) save(next state) error {
	plain, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("local: json.Marshal: %w", err)
	}
	nonce := make([]byte, m.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := m.aead.Seal(nonce, nonce, plain, aad)
	clear(plain)

	f, err := os.CreateTemp(m.dir, "."+DataFile+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("local: os.CreateTemp: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(out)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("local: write %s: %w", DataFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(m.dir, DataFile)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("local: os.Rename: %w", err)
	}
	if d, err := os.Open(m.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	m.state = next
	return nil
}

// clone deep-copies the state so that a failed save leaves m.state untouched.
func (s state) clone() state {
	out := state{Secrets: make(map[string]*secret, len(s.Secrets))}
	for id, sec := range s.Secrets {
		c := *sec
		c.Versions = slices.Clone(sec.Versions)
		c.Grants = slices.Clone(sec.Grants)
		out.Secrets[id] = &c
	}
	return out
}

// Resource is the local resource name of a secret id.
func Resource(secretID string) string { return "local/secrets/" + secretID }

// Put implements secrets.Manager.
func (m *Manager) Put(ctx context.Context, tenant, name string, value []byte) (secrets.Version, error) {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return secrets.Version{}, err
	}
	if err := secrets.CheckValue(value); err != nil {
		return secrets.Version{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UTC()
	next := m.state.clone()
	s, ok := next.Secrets[id]
	if !ok {
		s = &secret{Tenant: tenant, Name: name, Labels: secrets.Labels(tenant, name), CreatedAt: now}
		next.Secrets[id] = s
	}
	s.Versions = append(s.Versions, version{Data: slices.Clone(value), CreatedAt: now})
	if err := m.save(next); err != nil {
		return secrets.Version{}, err
	}
	v := secrets.Version{Name: name, Version: strconv.Itoa(len(s.Versions)), Resource: Resource(id), CreatedAt: now}
	m.log.InfoContext(ctx, "secret version added", "tenant", tenant, "secret", name, "version", v.Version)
	return v, nil
}

// Access implements secrets.Manager.
func (m *Manager) Access(_ context.Context, tenant, name, ver string) ([]byte, error) {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return nil, err
	}
	if ver, err = secrets.CheckVersion(ver); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.state.Secrets[id]
	if !ok || len(s.Versions) == 0 {
		return nil, fmt.Errorf("local: Access %s: %w", id, secrets.ErrNotFound)
	}
	n := int64(len(s.Versions))
	if ver != secrets.Latest {
		n = secrets.VersionNumber(ver)
	}
	if n < 1 || n > int64(len(s.Versions)) {
		return nil, fmt.Errorf("local: Access %s version %s: %w", id, ver, secrets.ErrNotFound)
	}
	return slices.Clone(s.Versions[n-1].Data), nil
}

// Delete implements secrets.Manager.
func (m *Manager) Delete(ctx context.Context, tenant, name string) error {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.Secrets[id]; !ok {
		return fmt.Errorf("local: Delete %s: %w", id, secrets.ErrNotFound)
	}
	next := m.state.clone()
	delete(next.Secrets, id)
	if err := m.save(next); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "secret deleted", "tenant", tenant, "secret", name)
	return nil
}

// DeleteTenant implements secrets.Manager; it selects by the recorded tenant, not by id prefix.
func (m *Manager) DeleteTenant(ctx context.Context, tenant string) (int, error) {
	if err := secrets.CheckTenant(tenant); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.state.clone()
	n := 0
	for id, s := range next.Secrets {
		if s.Tenant == tenant {
			delete(next.Secrets, id)
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := m.save(next); err != nil {
		return 0, err
	}
	m.log.InfoContext(ctx, "tenant secrets deleted", "tenant", tenant, "deleted", n)
	return n, nil
}

// GrantAccess implements secrets.Manager by recording member on each secret.
func (m *Manager) GrantAccess(ctx context.Context, tenant string, names []string, member string) error {
	if err := secrets.CheckTenant(tenant); err != nil {
		return err
	}
	names, err := secrets.Names(names)
	if err != nil {
		return err
	}
	if err := secrets.CheckMember(member); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.state.clone()
	changed := false
	for _, n := range names {
		id := secrets.SecretID(tenant, n)
		s, ok := next.Secrets[id]
		if !ok {
			return fmt.Errorf("local: GrantAccess %s: %w", id, secrets.ErrNotFound)
		}
		if !slices.Contains(s.Grants, member) {
			s.Grants = append(s.Grants, member)
			slices.Sort(s.Grants)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := m.save(next); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "secret access granted", "tenant", tenant, "secrets", names, "member", member, "role", secrets.AccessorRole)
	return nil
}

// Grants returns the members granted access to tenant's secret name, sorted (nil if none or if
// the secret does not exist).
func (m *Manager) Grants(tenant, name string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.state.Secrets[secrets.SecretID(tenant, name)]; ok {
		return slices.Clone(s.Grants)
	}
	return nil
}
