package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// Where the generated reference lives, relative to the repository root.
const (
	ReferenceDir = "docs/reference"
	ManDir       = "docs/man"
)

// ManDate is the date every generated man page carries in its header. It is fixed so the pages
// are byte-stable whatever the day or machine they are generated on (cobra would otherwise use
// SOURCE_DATE_EPOCH or the current month). Move it forward when the command surface changes
// enough to deserve a new manual date; the docs-in-sync test then asks for a regeneration.
var ManDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// GenerateDocs writes the command reference (one Markdown page per command) to mdDir and man
// pages to manDir, from the same command tree users run. Output is deterministic (the man
// pages carry ManDate, never today's date), so a test can check that the checked-in copy is in
// sync.
func GenerateDocs(root *cobra.Command, mdDir, manDir string) error {
	root.DisableAutoGenTag = true
	for _, c := range root.Commands() {
		disableAutoGen(c)
	}
	if mdDir != "" {
		if err := os.MkdirAll(mdDir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", mdDir, err)
		}
		if err := doc.GenMarkdownTree(root, mdDir); err != nil {
			return fmt.Errorf("generate Markdown reference: %w", err)
		}
	}
	if manDir != "" {
		if err := os.MkdirAll(manDir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", manDir, err)
		}
		date := ManDate
		hdr := &doc.GenManHeader{Title: "RUNNET", Section: "1", Source: "runnet", Manual: "runnet manual", Date: &date}
		if err := doc.GenManTree(root, hdr, manDir); err != nil {
			return fmt.Errorf("generate man pages: %w", err)
		}
	}
	return nil
}

func disableAutoGen(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, s := range c.Commands() {
		disableAutoGen(s)
	}
}

// NewCmdGenDocs returns the hidden `runnet gen-docs` that regenerates docs/reference and
// docs/man (run from the repository root).
func NewCmdGenDocs(f *Factory) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "gen-docs",
		Short:  "Regenerate the command reference and man pages",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				return exitcode.Usagef("--dir: give the repository root")
			}
			// A fresh tree, so the pages do not depend on this invocation's flags.
			root := NewRootCmd(NewFactory(f.IOStreams, func(string) string { return "" }))
			return GenerateDocs(root, filepath.Join(dir, ReferenceDir), filepath.Join(dir, ManDir))
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "repository root")
	return cmd
}
