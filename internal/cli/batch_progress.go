package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/preenroll/preenroll/fulfillment"
)

// progress shows how far the batch is: a bar redrawn in place on a
// terminal, one line per user otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	drawn bool
}

// barWidth is the width of the progress bar in characters.
const barWidth = 30

func newProgress(w io.Writer, total int) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), total: total}
}

// update is the batch's Progress callback (called one at a time).
func (p *progress) update(pr fulfillment.Progress) {
	if p.tty {
		filled := 0
		if pr.Total > 0 {
			filled = barWidth * pr.Done / pr.Total
		}
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d  ordered %d  skipped %d  failed %d",
			strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pr.Done, pr.Total, pr.Ordered, pr.Skipped, pr.Failed)
		p.drawn = true
		return
	}
	r := pr.Last
	who := cmp.Or(r.Login, r.UserID)
	switch {
	case r.Err == nil:
		fmt.Fprintf(p.w, "[%d/%d] ordered %s: %s\n", pr.Done, pr.Total, safe(who), r.Status.Label())
	default:
		fmt.Fprintf(p.w, "[%d/%d] not ordered %s: %s\n", pr.Done, pr.Total, safe(who), describe(context.Background(), r.Err))
	}
}

// done ends the bar's line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
