package results

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// TestMarkdownReportRendersAsTables renders `report --format markdown` the way GitHub does
// (CommonMark with the GFM table extension, goldmark) and checks that what pastes into a
// ticket is what it looks like in the source: every block of |-lines becomes a table, every
// row has the header's number of cells and no empty header, and no |-line is left over as a
// paragraph of pipes (a table broken by a stray line or an unescaped pipe in a cell).
func TestMarkdownReportRendersAsTables(t *testing.T) {
	t.Parallel()
	pair := goldenPair(t)
	relayed := sampleResult(t)
	relayed.Variant = "relay"
	relayed.Origin = &OriginTruth{OriginCounts: OriginCounts{RequestsStarted: 990, Faults: map[string]uint64{"rst-headers": 3}, Relay: &RelayCounts{Upstream: "http://app:8000", ConnectionsOpened: 9, RequestsForwarded: 990, AppErrors: AppErrors{Reset: 1}}}}
	for name, rs := range map[string][]*Result{"pair": pair, "one": pair[:1], "relay": {pair[0], relayed}} {
		var src bytes.Buffer
		if err := WriteReport(&src, rs, FormatMarkdown); err != nil {
			t.Fatal(err)
		}
		md := goldmark.New(goldmark.WithExtensions(extension.GFM))
		doc := md.Parser().Parse(text.NewReader(src.Bytes()))

		wantTables := 0
		inTable, inFence := false, false
		for _, l := range strings.Split(src.String(), "\n") {
			if strings.HasPrefix(l, "```") {
				inFence = !inFence
			}
			isRow := !inFence && strings.HasPrefix(l, "|")
			if isRow && !inTable {
				wantTables++
			}
			inTable = isRow
		}
		gotTables := 0
		ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering {
				return ast.WalkContinue, nil
			}
			switch n := n.(type) {
			case *east.Table:
				gotTables++
				head := n.FirstChild()
				cols := head.ChildCount()
				for c := head.FirstChild(); c != nil; c = c.NextSibling() {
					if len(strings.TrimSpace(string(c.Text(src.Bytes())))) == 0 {
						t.Errorf("%s: a table has an empty header cell", name)
					}
				}
				for row := head.NextSibling(); row != nil; row = row.NextSibling() {
					if row.ChildCount() != cols {
						t.Errorf("%s: a row of %d cells under a header of %d: %q", name, row.ChildCount(), cols, row.Text(src.Bytes()))
					}
				}
			case *ast.Paragraph:
				if strings.HasPrefix(strings.TrimSpace(string(n.Text(src.Bytes()))), "|") {
					t.Errorf("%s: a |-line rendered as a paragraph, not a table: %q", name, n.Text(src.Bytes()))
				}
			}
			return ast.WalkContinue, nil
		})
		if gotTables != wantTables || gotTables == 0 {
			t.Errorf("%s: %d tables rendered, %d in the source:\n%s", name, gotTables, wantTables, src.String())
		}
		if name == "relay" && !strings.Contains(src.String(), "Relay: the app at http://app:8000") {
			t.Errorf("relay: the report does not say what the relay did:\n%s", src.String())
		}
	}
}
