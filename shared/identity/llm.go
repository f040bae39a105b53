package identity

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// RoleVertexUser is the role a tenant's service account gets on its project when the tenant
// turns Vertex AI on, conditioned to the models it listed.
const RoleVertexUser = "roles/aiplatform.user"

// MaxModels bounds the models one tenant may list (the condition grows with each).
const MaxModels = 20

// ErrUnknownModel: a model id is not one Runyard offers on Vertex AI.
var ErrUnknownModel = errors.New("identity: unknown model")

// Models are the Vertex AI model ids a tenant may list, with their publisher. The condition on
// the grant names each as projects/P/locations/L/publishers/<publisher>/models/<id>.
var Models = map[string]string{
	"gemini-2.5-pro":        "google",
	"gemini-2.5-flash":      "google",
	"gemini-2.5-flash-lite": "google",
	"gemini-2.0-flash":      "google",
	"gemini-2.0-flash-lite": "google",
	"claude-sonnet-4-5":     "anthropic",
	"claude-haiku-4-5":      "anthropic",
	"claude-opus-4-1":       "anthropic",
	"claude-sonnet-4":       "anthropic",
	"claude-3-7-sonnet":     "anthropic",
}

// LLM is a tenant's LLM access setting: Vertex AI on or off, and the models it may call.
type LLM struct {
	VertexAI bool     `firestore:"vertex_ai" json:"vertex_ai"`
	Models   []string `firestore:"models" json:"models"`
}

// Normalize checks l: with Vertex AI on, one to MaxModels known models (sorted, deduplicated);
// off, no models are kept. Errors wrap ErrUnknownModel or ErrInvalid.
func (l LLM) Normalize() (LLM, error) {
	if !l.VertexAI {
		return LLM{Models: []string{}}, nil
	}
	out := LLM{VertexAI: true, Models: make([]string, 0, len(l.Models))}
	for _, m := range l.Models {
		if _, ok := Models[m]; !ok {
			return LLM{}, fmt.Errorf("%w: %s", ErrUnknownModel, strconv.Quote(truncate(m, 64)))
		}
		out.Models = append(out.Models, m)
	}
	slices.Sort(out.Models)
	out.Models = slices.Compact(out.Models)
	switch {
	case len(out.Models) == 0:
		return LLM{}, fmt.Errorf("%w: list at least one model to turn Vertex AI on", ErrInvalid)
	case len(out.Models) > MaxModels:
		return LLM{}, fmt.Errorf("%w: at most %d models", ErrInvalid, MaxModels)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// VertexCondition restricts roles/aiplatform.user to calls on the listed models in project and
// location: the resource of a generateContent/predict call on a publisher model is its model
// name (with an "@version" for pinned versions), so nothing else (endpoints, datasets, tuning
// jobs, other models) matches.
func VertexCondition(project, location string, models []string) *Condition {
	var terms []string
	for _, m := range models {
		name := fmt.Sprintf("projects/%s/locations/%s/publishers/%s/models/%s", project, location, Models[m], m)
		terms = append(terms, fmt.Sprintf("resource.name == %q || resource.name.startsWith(%q)", name, name+"@"))
	}
	return &Condition{
		Title:       "runyard-vertex-models",
		Description: "Runyard: Vertex AI calls on the tenant's chosen models only: " + strings.Join(models, ", "),
		Expression:  strings.Join(terms, " || "),
	}
}

// VertexEnv is what a runtime of a tenant with Vertex AI on gets, so agents (LiteLLM, the
// google-genai SDK) call Vertex AI with the runtime's own identity: no key enters the sandbox.
func VertexEnv(project, location string) map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT":      project,
		"GOOGLE_CLOUD_LOCATION":     location,
		"GOOGLE_GENAI_USE_VERTEXAI": "true",
		"VERTEXAI_PROJECT":          project,
		"VERTEXAI_LOCATION":         location,
	}
}
