package cli

import (
	"context"

	"github.com/preenroll/preenroll/internal/demo"
)

func init() {
	Register(&Command{
		Name: "demo", MaxArgs: 0,
		Summary: "play the whole lifecycle on in-process fakes and simulated keys",
		Doc: `Plays the whole life of pre-enrolled YubiKeys in a few seconds, with every
party simulated in process: a fake Okta org, a fake Yubico with its factory,
and simulated keys, driven by the real Service. Users are prepared in Okta,
ordered, enrolled, shipped and delivered on the fakes' clocks; each PIN email
is read, each key signs in (changing its PIN first) and Okta's wiping of the
preset PIN is checked. PINs are printed masked.

Exit codes: 0 every key ended Active with its PIN wiped, 1 something failed,
2 bad usage.`,
		Run: func(ctx context.Context, inv *Invocation) int {
			cfg := inv.Config
			return demo.Run(ctx, "preenroll demo", demo.Options{
				Users: cfg.DemoUsers, Concurrency: cfg.Concurrency, JSON: cfg.JSON, Logger: inv.Logger,
			}, inv.Stdout, inv.Stderr)
		},
	})
}
