package tenancy

// Action names one kind of operation on a tenant; audit events record it.
type Action string

// Actions. Mutating actions are audited.
const (
	ActTenantCreate  Action = "tenant.create"
	ActTenantRead    Action = "tenant.read"
	ActTenantDelete  Action = "tenant.delete"
	ActMembersList   Action = "members.list"
	ActMemberAdd     Action = "members.add"
	ActMemberRemove  Action = "members.remove"
	ActAPIKeysList   Action = "apikeys.list"
	ActAPIKeyCreate  Action = "apikeys.create"
	ActAPIKeyRevoke  Action = "apikeys.revoke"
	ActAuditRead     Action = "audit.read"
	ActSecretsList   Action = "secrets.list"
	ActSecretPut     Action = "secrets.put"
	ActSecretDelete  Action = "secrets.delete"
	ActBuildsList    Action = "builds.list"
	ActBuildCreate   Action = "builds.create"
	ActBuildCancel   Action = "builds.cancel"
	ActReposList     Action = "repos.list"
	ActReposWrite    Action = "repos.write"
	ActRuntimesList  Action = "runtimes.list"
	ActRuntimeCreate Action = "runtimes.create"
	ActRuntimeManage Action = "runtimes.manage"
	ActBrandingRead  Action = "branding.read"
	ActBrandingWrite Action = "branding.write"
	ActDomainsList   Action = "domains.list"
	ActDomainsWrite  Action = "domains.write"
	ActUsageRead     Action = "usage.read"
	ActBudgetWrite   Action = "budget.write"
	ActBillingManage Action = "billing.manage"
	ActLLMRead       Action = "llm.read"
	ActLLMWrite      Action = "llm.write"
	// ActPreviewsManage sets preview visibility and mints and revokes preview links.
	ActPreviewsManage Action = "previews.manage"
)

// Permissions is the permission table: the weakest member role allowed each action, and
// whether a tenant API key may do it. README.md of functions/api renders this table; a test
// keeps the two in step.
var Permissions = map[Action]Permission{
	ActTenantRead:     {MinRole: RoleMember, APIKey: true},
	ActTenantDelete:   {MinRole: RoleOwner},
	ActMembersList:    {MinRole: RoleMember},
	ActMemberAdd:      {MinRole: RoleAdmin},
	ActMemberRemove:   {MinRole: RoleAdmin},
	ActAPIKeysList:    {MinRole: RoleAdmin},
	ActAPIKeyCreate:   {MinRole: RoleAdmin},
	ActAPIKeyRevoke:   {MinRole: RoleAdmin},
	ActAuditRead:      {MinRole: RoleAdmin},
	ActSecretsList:    {MinRole: RoleMember},
	ActSecretPut:      {MinRole: RoleAdmin},
	ActSecretDelete:   {MinRole: RoleAdmin},
	ActBuildsList:     {MinRole: RoleMember, APIKey: true},
	ActBuildCreate:    {MinRole: RoleMember, APIKey: true},
	ActBuildCancel:    {MinRole: RoleMember, APIKey: true},
	ActReposList:      {MinRole: RoleMember},
	ActReposWrite:     {MinRole: RoleAdmin},
	ActRuntimesList:   {MinRole: RoleMember, APIKey: true},
	ActRuntimeCreate:  {MinRole: RoleMember, APIKey: true},
	ActRuntimeManage:  {MinRole: RoleMember, APIKey: true},
	ActBrandingRead:   {MinRole: RoleMember},
	ActBrandingWrite:  {MinRole: RoleAdmin},
	ActDomainsList:    {MinRole: RoleMember},
	ActDomainsWrite:   {MinRole: RoleAdmin},
	ActUsageRead:      {MinRole: RoleMember},
	ActBudgetWrite:    {MinRole: RoleAdmin},
	ActBillingManage:  {MinRole: RoleOwner},
	ActLLMRead:        {MinRole: RoleMember},
	ActLLMWrite:       {MinRole: RoleAdmin},
	ActPreviewsManage: {MinRole: RoleMember, APIKey: true},
}

// Permission is one row of the table.
type Permission struct {
	MinRole Role
	// APIKey: a tenant API key may perform the action on its own tenant.
	APIKey bool
}

// Allowed reports whether a member with role r may perform a.
func Allowed(r Role, a Action) bool {
	p, ok := Permissions[a]
	return ok && r.AtLeast(p.MinRole)
}

// Further rules the table cannot show, enforced by Service:
//   - only an owner may add an owner or remove an owner;
//   - any member may remove themselves (leave), except the last owner;
//   - the last owner can never be removed;
//   - only signed-in users (not API keys) create tenants; the creator becomes its owner.
