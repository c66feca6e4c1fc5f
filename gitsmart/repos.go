package gitsmart

import (
	"context"

	"rewire/storage"
	"rewire/storage/gitstore"
)

// CreateRepo creates an empty repository whose HEAD names main. It fails
// with an error wrapping storage.ErrExists when the name is taken and
// storage.ErrInvalidName when it is not a valid repository name.
func CreateRepo(ctx context.Context, t *storage.Tenant, name string) error {
	return gitstore.Create(ctx, t, name)
}

// DeleteRepo removes a repository with its references and objects. It
// fails with an error wrapping storage.ErrNotFound when it does not exist.
func DeleteRepo(ctx context.Context, t *storage.Tenant, name string) error {
	return gitstore.Delete(ctx, t, name)
}

// ListRepos returns the names of the tenant's repositories in order.
func ListRepos(ctx context.Context, t *storage.Tenant) ([]string, error) {
	return gitstore.List(ctx, t)
}
