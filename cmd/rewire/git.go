package main

import (
	"context"
	"errors"
	"fmt"

	"rewire/gitsmart"
	"rewire/storage"
)

// gitCmd creates, deletes and lists a tenant's git repositories. Like
// mount and mcp it opens the data directory itself, so no server may be
// using it; with a server running, the first push creates a repository
// and the HTTP API's git.create and git.delete methods do the rest.
func gitCmd(args []string) error {
	const usage = "usage: rewire git create|delete TENANT REPO [--data DIR] | rewire git list TENANT [--data DIR]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	sub, args := args[0], args[1:]
	o := newOptions("git " + sub)
	data := o.str("data", "./rewire-data", "data directory")
	pos, err := o.parse(args)
	if err != nil {
		return err
	}
	want := 2
	if sub == "list" {
		want = 1
	}
	if len(pos) != want {
		return errors.New(usage)
	}
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: *data, MoverInterval: -1})
	if errors.Is(err, storage.ErrDirInUse) {
		return fmt.Errorf("%w; with a server running, push to create a repository or use the HTTP API's git.create and git.delete", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.Acquire(ctx, pos[0])
	if err != nil {
		return err
	}
	defer t.Release()
	switch sub {
	case "create":
		if err := gitsmart.CreateRepo(ctx, t, pos[1]); err != nil {
			return err
		}
		fmt.Printf("repository %s/%s created\n", pos[0], pos[1])
	case "delete":
		if err := gitsmart.DeleteRepo(ctx, t, pos[1]); err != nil {
			return err
		}
		fmt.Printf("repository %s/%s deleted\n", pos[0], pos[1])
	case "list":
		names, err := gitsmart.ListRepos(ctx, t)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Println(n)
		}
	default:
		return errors.New(usage)
	}
	return nil
}
