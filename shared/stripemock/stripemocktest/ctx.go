package stripemocktest

import "context"

type indexKey struct{}

func withIndex(ctx context.Context, i int) context.Context {
	return context.WithValue(ctx, indexKey{}, i)
}

func indexFrom(ctx context.Context) (int, bool) {
	i, ok := ctx.Value(indexKey{}).(int)
	return i, ok
}
