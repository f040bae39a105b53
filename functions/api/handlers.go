package api

import (
	"context"
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// The generic handlers below serve every resource's list, get and delete: each parses the
// tenant (and the resource id with idOf), calls one tenancy method and renders its answer.

// idFunc reads and validates a resource id from the path.
type idFunc func(r *http.Request) (string, error)

// listHandler serves a page of fn's listing of tenant {t}.
func listHandler[T any](fn func(ctx context.Context, c tenancy.Caller, t string, q store.Query) (tenancy.Page[T], error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		t, err := tenantID(r)
		if err != nil {
			return err
		}
		q, err := pageQuery(r)
		if err != nil {
			return err
		}
		page, err := fn(r.Context(), c, t, q)
		if err != nil {
			return err
		}
		httpx.JSON(w, r, http.StatusOK, page)
		return nil
	}
}

// getHandler serves fn's record of tenant {t} named by idOf.
func getHandler[T any](idOf idFunc, fn func(ctx context.Context, c tenancy.Caller, t, id string) (T, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		t, id, err := tenantAnd(r, idOf)
		if err != nil {
			return err
		}
		v, err := fn(r.Context(), c, t, id)
		if err != nil {
			return err
		}
		httpx.JSON(w, r, http.StatusOK, v)
		return nil
	}
}

// deleteHandler deletes fn's record of tenant {t} named by idOf and answers 204.
func deleteHandler(idOf idFunc, fn func(ctx context.Context, c tenancy.Caller, t, id string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		t, id, err := tenantAnd(r, idOf)
		if err != nil {
			return err
		}
		if err := fn(r.Context(), c, t, id); err != nil {
			return err
		}
		httpx.JSON(w, r, http.StatusNoContent, nil)
		return nil
	}
}

// tenantOnly adapts a method on the tenant itself to getHandler's shape (with a nil idFunc
// the id is the tenant's).
func tenantOnly[T any](fn func(ctx context.Context, c tenancy.Caller, t string) (T, error)) func(context.Context, tenancy.Caller, string, string) (T, error) {
	return func(ctx context.Context, c tenancy.Caller, t, _ string) (T, error) { return fn(ctx, c, t) }
}

func tenantAnd(r *http.Request, idOf idFunc) (t, id string, err error) {
	if t, err = tenantID(r); err != nil {
		return "", "", err
	}
	if idOf == nil {
		return t, t, nil
	}
	id, err = idOf(r)
	return t, id, err
}

// secretName returns the {name} path value; the tenancy service validates it.
func secretName(r *http.Request) (string, error) { return r.PathValue("name"), nil }
