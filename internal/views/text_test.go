package views_test

import (
	"strings"

	"golang.org/x/net/html"
)

var inline = map[string]bool{"span": true, "a": true, "code": true, "strong": true, "time": true}

// blockish spans are laid out apart from their neighbours: badges
// (inline-flex) and .sub lines (block).
func blockish(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Key == "class" {
			for _, c := range strings.Fields(a.Val) {
				if c == "badge" || c == "sub" {
					return true
				}
			}
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		// Elements separate words the way a browser lays them out (badges,
		// table cells, dt/dd); Fields below collapses the extra spaces.
		if n.Type == html.ElementNode && (!inline[n.Data] || blockish(n)) {
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}
