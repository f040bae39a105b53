// Package local is the identity port for `runyard dev`: local runtimes are processes with no
// Google identity, so it only records the accounts and grants it is asked for (the local stack
// and tests can inspect them) and never calls a cloud API.
package local

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/ids"
)

// Manager records service accounts and project grants in memory.
type Manager struct {
	mu       sync.Mutex
	accounts map[string]string // project/tenant → email
	grants   map[string]Grant  // project/role/member → grant
}

// Grant is a recorded project-level binding.
type Grant struct {
	Project, Role, Member string
	Condition             *identity.Condition
}

var _ identity.Manager = (*Manager)(nil)

// New returns an empty Manager.
func New() *Manager { return &Manager{accounts: map[string]string{}, grants: map[string]Grant{}} }

// Ensure records the tenant's account.
func (m *Manager) Ensure(_ context.Context, tenant, project string) (string, error) {
	if !ids.ValidTenant(tenant) || project == "" {
		return "", fmt.Errorf("%w: tenant %q, project %q", identity.ErrInvalid, tenant, project)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	email := identity.Email(tenant, project)
	m.accounts[project+"/"+tenant] = email
	return email, nil
}

// Lookup returns a recorded account.
func (m *Manager) Lookup(_ context.Context, tenant, project string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.accounts[project+"/"+tenant]; ok {
		return e, nil
	}
	return "", identity.ErrNotFound
}

// Delete forgets an account.
func (m *Manager) Delete(_ context.Context, tenant, project string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.accounts, project+"/"+tenant)
	return nil
}

// SetProjectRole records a grant.
func (m *Manager) SetProjectRole(_ context.Context, project, role, member string, cond *identity.Condition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants[project+"/"+role+"/"+member] = Grant{Project: project, Role: role, Member: member, Condition: cond}
	return nil
}

// RemoveProjectRole forgets a grant.
func (m *Manager) RemoveProjectRole(_ context.Context, project, role, member string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.grants, project+"/"+role+"/"+member)
	return nil
}

// Accounts returns the recorded account emails, sorted.
func (m *Manager) Accounts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Values(m.accounts))
}

// Grants returns the recorded grants.
func (m *Manager) Grants() []Grant {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.grants))
}
