package api_test

import (
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/identity"
)

const (
	acmeSA  = "rt-acme@test-project.iam.gserviceaccount.com"
	otherSA = "rt-other@test-project.iam.gserviceaccount.com"
)

// bindingsOf returns "role on resource" for every binding of member in the policies read.
func bindingsOf(member string, policy func(string) *iampb.Policy, resources []string) []string {
	var out []string
	slices.Sort(resources)
	for _, r := range slices.Compact(resources) {
		for _, b := range policy(r).GetBindings() {
			if slices.Contains(b.GetMembers(), member) {
				out = append(out, b.GetRole()+" on "+r)
			}
		}
	}
	return out
}

// TestTenantIdentityIsolation creates runtimes for two tenants through the real handlers and
// checks, in the IAM policies the fakes hold (Secret Manager, bucket IAM over the storage gRPC
// API, project IAM), that each tenant's service account holds exactly its own grants: nothing on
// the other tenant's secrets or bucket, and nothing on the project unless its LLM access is on,
// then exactly the conditioned roles/aiplatform.user.
func TestTenantIdentityIsolation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, putSecret("sk-a"), nil)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/UNUSED", f.owner, putSecret("u-a"), nil)
	f.must(t, 201, "PUT", "/v1/tenants/other/secrets/OPENAI_API_KEY", f.otherOwner, putSecret("sk-o"), nil)
	f.must(t, 201, "PUT", "/v1/tenants/other/secrets/GITHUB_TOKEN", f.otherOwner, putSecret("gh-o"), nil)
	var a, o rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image, Secrets: []string{"OPENAI_API_KEY"}}, &a)
	f.must(t, 202, "POST", "/v1/tenants/other/runtimes", f.otherOwner,
		api.CreateRuntimeRequest{Image: image, Secrets: []string{"OPENAI_API_KEY", "GITHUB_TOKEN"}}, &o)

	// Each tenant has its own account, made on its first runtime, and its service runs as it.
	if got := f.iam.Accounts(); !slices.Equal(got, []string{acmeSA, otherSA}) {
		t.Fatalf("service accounts %v", got)
	}
	for id, want := range map[string]string{a.ID: acmeSA, o.ID: otherSA} {
		if got := f.run.Service(svcName(id)).GetTemplate().GetServiceAccount(); got != want {
			t.Errorf("runtime %s runs as %q, want %q", id, got, want)
		}
	}
	secretRes := f.sm.IAMResources()
	bucketRes := f.storage.IAMResources()
	prefix := "projects/test/secrets/"
	wantGrants := map[string][]string{
		acmeSA: {"roles/secretmanager.secretAccessor on " + prefix + "rt-acme-OPENAI_API_KEY"},
		otherSA: {"roles/secretmanager.secretAccessor on " + prefix + "rt-other-GITHUB_TOKEN",
			"roles/secretmanager.secretAccessor on " + prefix + "rt-other-OPENAI_API_KEY"},
	}
	wantBucket := map[string][]string{
		acmeSA:  {"roles/storage.objectUser on projects/_/buckets/ryws-acme"},
		otherSA: {"roles/storage.objectUser on projects/_/buckets/ryws-other"},
	}
	for sa, want := range wantGrants {
		member := identity.Member(sa)
		if got := bindingsOf(member, f.sm.Policy, secretRes); !slices.Equal(got, want) {
			t.Errorf("%s on secrets: %v, want %v", sa, got, want)
		}
		bucketPolicy := func(r string) *iampb.Policy { return f.storage.Policy(strings.TrimPrefix(r, "projects/_/buckets/")) }
		if got := bindingsOf(member, bucketPolicy, bucketRes); !slices.Equal(got, wantBucket[sa]) {
			t.Errorf("%s on buckets: %v, want %v", sa, got, wantBucket[sa])
		}
		if pol := f.iam.ProjectPolicy("test-project"); len(bindingsOf(member, func(string) *iampb.Policy { return pol }, []string{"p"})) != 0 {
			t.Errorf("%s holds a project-level binding: %v", sa, pol)
		}
	}
	if n := f.sm.ProjectPolicyCalls(); n != 0 {
		t.Errorf("%d IAM calls on something other than one secret", n)
	}
	// Nothing of acme's bucket condition lets it reach the marker.
	if c := f.storage.Policy("ryws-acme").GetBindings()[0].GetCondition().GetExpression(); !strings.Contains(c, ".runyard-workspace") {
		t.Errorf("bucket binding condition %q", c)
	}

	// LLM access: off by default, owner/admin only, validated, then exactly one conditioned
	// project binding for acme (and none for other).
	var l identity.LLMSetting
	f.must(t, 200, "GET", "/v1/tenants/acme/llm", f.member, nil, &l)
	if l.VertexAI || len(l.Models) != 0 {
		t.Fatalf("default LLM setting %+v", l)
	}
	on := api.LLMRequest{VertexAI: true, Models: []string{"gemini-2.5-pro", "claude-sonnet-4-5"}}
	if rec := f.do(t, "PUT", "/v1/tenants/acme/llm", f.member, on); rec.Code != 403 {
		t.Fatalf("member PUT llm: %d", rec.Code)
	}
	if rec := f.do(t, "PUT", "/v1/tenants/acme/llm", f.owner, api.LLMRequest{VertexAI: true, Models: []string{"gpt-5"}}); rec.Code != 400 || errorCode(t, rec) != api.CodeUnknownModel {
		t.Fatalf("unknown model: %d %s", rec.Code, rec.Body)
	}
	if f.iam.ProjectPolicy("test-project") != nil {
		t.Fatal("refused requests changed the project policy")
	}
	f.must(t, 200, "PUT", "/v1/tenants/acme/llm", f.admin, on, &l)
	if !l.VertexAI || !slices.Equal(l.Models, []string{"claude-sonnet-4-5", "gemini-2.5-pro"}) || l.UpdatedBy != adminEmail {
		t.Fatalf("PUT llm answered %+v", l)
	}
	pol := f.iam.ProjectPolicy("test-project")
	if len(pol.GetBindings()) != 1 || pol.GetVersion() != 3 {
		t.Fatalf("project policy %v", pol)
	}
	b := pol.GetBindings()[0]
	wantExpr := identity.VertexCondition("test-project", "global", l.Models).Expression
	if b.GetRole() != identity.RoleVertexUser || !slices.Equal(b.GetMembers(), []string{identity.Member(acmeSA)}) || b.GetCondition().GetExpression() != wantExpr {
		t.Fatalf("binding %v", b)
	}
	// A new runtime of acme is told to use Vertex AI; no key is in its environment.
	var a2 rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image}, &a2)
	env := map[string]string{}
	for _, c := range f.run.Service(svcName(a2.ID)).GetTemplate().GetContainers() {
		for _, e := range c.GetEnv() {
			env[e.GetName()] = e.GetValue()
		}
	}
	if env["GOOGLE_GENAI_USE_VERTEXAI"] != "true" || env["VERTEXAI_PROJECT"] != "test-project" || env["VERTEXAI_LOCATION"] != "global" ||
		env["GOOGLE_CLOUD_PROJECT"] != "test-project" {
		t.Errorf("runtime env %v", env)
	}
	if len(f.iam.ProjectPolicy("test-project").GetBindings()) != 1 {
		t.Error("the deploy added a second project binding")
	}
	// Off removes the binding; the audit log has both changes.
	f.must(t, 200, "PUT", "/v1/tenants/acme/llm", f.owner, api.LLMRequest{VertexAI: false}, &l)
	if got := f.iam.ProjectPolicy("test-project").GetBindings(); len(got) != 0 {
		t.Fatalf("after turning it off: %v", got)
	}
	var audit struct {
		Items []struct {
			Action, Outcome string
		} `json:"items"`
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/audit", f.owner, nil, &audit)
	var llmEvents []string
	for _, e := range audit.Items {
		if e.Action == "llm.write" {
			llmEvents = append(llmEvents, e.Outcome)
		}
	}
	if !slices.Equal(llmEvents, []string{"success", "success", "denied"}) {
		t.Errorf("llm.write audit events (newest first) %v", llmEvents)
	}

	// Deleting a tenant deletes its account (and only its).
	f.must(t, 204, "DELETE", "/v1/tenants/other", f.otherOwner, nil, nil)
	if got := f.iam.Accounts(); !slices.Equal(got, []string{acmeSA}) {
		t.Fatalf("after deleting other: %v", got)
	}
}
