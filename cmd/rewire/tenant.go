package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"rewire/storage"
)

func tenantCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: rewire tenant create|list|delete|passwd|policy")
	}
	sub, args := args[0], args[1:]
	o := newOptions("tenant " + sub)
	data := o.str("data", "./rewire-data", "data directory")
	var password *string
	if sub == "create" || sub == "passwd" {
		password = o.str("password", "", "the tenant's password")
	}
	var hotMax, warmAfter, coldAfter *string
	if sub == "policy" {
		hotMax = o.str("hot-max-bytes", "", "blobs up to this size stay inline (empty: server default)")
		warmAfter = o.str("warm-after", "", "demote to warm after this long unread (empty: server default)")
		coldAfter = o.str("cold-after", "", "demote to cold after this long unread (empty: server default)")
	}
	pos, err := o.parse(args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	// The tenant commands open the control database only, without the
	// data directory's lock, so they run beside a server on it.
	store, err := storage.Open(ctx, storage.Config{Dir: *data, MoverInterval: -1, ControlOnly: true})
	if err != nil {
		return err
	}
	defer store.Close()

	switch sub {
	case "create":
		if len(pos) != 1 || *password == "" {
			return errors.New("usage: rewire tenant create NAME --password P")
		}
		if _, err := store.CreateTenant(ctx, pos[0], *password); err != nil {
			return err
		}
		fmt.Printf("tenant %s created\n", pos[0])
	case "passwd":
		if len(pos) != 1 || *password == "" {
			return errors.New("usage: rewire tenant passwd NAME --password P")
		}
		return store.Control().SetPassword(ctx, pos[0], *password)
	case "policy":
		if len(pos) != 1 {
			return errors.New("usage: rewire tenant policy NAME [--hot-max-bytes N] [--warm-after D] [--cold-after D]")
		}
		var p storage.Policy
		var err error
		if *hotMax != "" {
			if p.HotMaxBytes, err = strconv.ParseInt(*hotMax, 10, 64); err != nil {
				return fmt.Errorf("--hot-max-bytes: %w", err)
			}
		}
		if *warmAfter != "" {
			if p.WarmAfter, err = time.ParseDuration(*warmAfter); err != nil {
				return fmt.Errorf("--warm-after: %w", err)
			}
		}
		if *coldAfter != "" {
			if p.ColdAfter, err = time.ParseDuration(*coldAfter); err != nil {
				return fmt.Errorf("--cold-after: %w", err)
			}
		}
		// A running server applies the new policy when it next opens the
		// tenant.
		return store.Control().SetPolicy(ctx, pos[0], p)
	case "list":
		tenants, err := store.Control().ListTenants(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tCREATED")
		for _, t := range tenants {
			fmt.Fprintf(w, "%s\t%s\n", t.Name, t.Created.Format(time.RFC3339))
		}
		return w.Flush()
	case "delete":
		if len(pos) != 1 {
			return errors.New("usage: rewire tenant delete NAME")
		}
		if err := store.DeleteTenant(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Printf("tenant %s deleted\n", pos[0])
	default:
		return fmt.Errorf("unknown tenant command %q", sub)
	}
	return nil
}
