package client_test

import (
	"context"
	"fmt"
	"strings"

	"rewire/api/wire"
	"rewire/client"
)

// The same pattern serves every area: one client, typed methods.
func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", &client.Options{User: "demo", Password: "demo-pw"})

	if err := c.Files().WriteFile(ctx, "/notes/today.md", []byte("# Today\n"), true); err != nil {
		fmt.Println(err)
		return
	}
	n, _ := c.Files().Upload(ctx, "/data/big.csv", strings.NewReader("a,b\n1,2\n"), true)
	fmt.Println("uploaded", n)

	v := "hello"
	off, _ := c.Streams().Produce(ctx, wire.ProduceParams{Topic: "events", Create: true,
		Records: []wire.Record{{Value: &v}}})
	fmt.Println("offset", off)

	rows, _ := c.SQL().Query(ctx, "", "SELECT count(*) FROM items WHERE done = ?", true)
	fmt.Println(rows.Rows)

	commits, _ := c.Git().Log(ctx, "site", "main", 5)
	fmt.Println(len(commits))
}
