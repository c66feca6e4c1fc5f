// Command rewire runs the rewire server and manages its tenants.
//
//	rewire serve [--data DIR] [--kafka-addr A] [--nats-addr A] [--pg-addr A]
//	             [--http-addr A] [--mount TENANT=DIR ...]
//	rewire tenant create NAME --password P [--data DIR]
//	rewire tenant list [--data DIR]
//	rewire tenant delete NAME [--data DIR]
//	rewire mount TENANT DIR [--data DIR]
//	rewire mcp --tenant T [--data DIR]
//	rewire git create|delete TENANT REPO [--data DIR]
//	rewire git list TENANT [--data DIR]
//	rewire version
//
// Every flag may also come from the environment (REWIRE_DATA,
// REWIRE_KAFKA_ADDR, …) or from a TOML config file named by --config.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage:
  rewire serve [--data DIR] [--kafka-addr A] [--nats-addr A] [--pg-addr A] [--http-addr A] [--mount TENANT=DIR ...]
  rewire tenant create NAME --password P [--data DIR]
  rewire tenant list [--data DIR]
  rewire tenant delete NAME [--data DIR]
  rewire mount TENANT DIR [--data DIR]
  rewire mcp --tenant T [--data DIR]
  rewire git create|delete TENANT REPO [--data DIR]
  rewire git list TENANT [--data DIR]
  rewire version
Run "rewire COMMAND -h" for a command's flags.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rewire:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "tenant":
		return tenantCmd(args[1:])
	case "mount":
		return mountCmd(args[1:])
	case "mcp":
		return mcpCmd(args[1:])
	case "git":
		return gitCmd(args[1:])
	case "version", "--version", "-v":
		fmt.Println("rewire", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
