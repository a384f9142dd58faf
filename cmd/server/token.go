package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/auth"
)

// cmdToken creates, lists and revokes API tokens:
//
//	lifeboat token create --name NAME   prints the token once, on stdout
//	lifeboat token list
//	lifeboat token revoke (--id N | --name NAME)
func cmdToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: give create, list or revoke")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	name := fs.String("name", "", "token name (create, revoke)")
	id := fs.Int64("id", 0, "token id (revoke)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Pool().Close()
	tokens := auth.New(st)

	switch sub {
	case "create":
		if *name == "" {
			return errors.New("token create: --name is required")
		}
		tok, secret, err := tokens.Create(ctx, *name)
		if err != nil {
			return err
		}
		// The token alone on stdout, so scripts can capture it.
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "token %d %q created; it is shown only now: store it somewhere safe\n", tok.ID, tok.Name)
		return nil
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tHINT\tCREATED\tLAST USED\tREVOKED")
		stamp := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.UTC().Format(time.RFC3339)
		}
		for _, t := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Hint, stamp(&t.CreatedAt), stamp(t.LastUsedAt), stamp(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if (*id == 0) == (*name == "") {
			return errors.New("token revoke: give exactly one of --id or --name")
		}
		tok, err := tokens.Revoke(ctx, *id, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d %q revoked\n", tok.ID, tok.Name)
		return nil
	}
	return fmt.Errorf("token: unknown subcommand %q (create, list, revoke)", sub)
}
