package views

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// wcagAA is the minimum contrast for normal-size text.
const wcagAA = 4.5

func TestContrastRatioMatchesWCAGExamples(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fg, bg string
		want   float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic "just fails AA" grey
		{"#767676", "#ffffff", 4.54},
	} {
		got, err := contrastRatio(c.fg, c.bg)
		require.NoError(t, err)
		require.InDelta(t, c.want, got, 0.01, "%s on %s", c.fg, c.bg)
	}
	_, err := contrastRatio("#fff", "#000000")
	require.Error(t, err)
}

func TestPaletteMeetsWCAGAAInBothThemes(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, []string{"light", "dark"}, keys(Palette))
	for theme, c := range Palette {
		require.Len(t, c.Tones, len(Tones), "%s theme defines every tone", theme)
		for name, pair := range c.textPairs() {
			r, err := contrastRatio(pair[0], pair[1])
			require.NoError(t, err, "%s: %s", theme, name)
			require.GreaterOrEqual(t, r, wcagAA, "%s theme: %s (%s on %s) is %.2f:1", theme, name, pair[0], pair[1], r)
		}
	}
	// Every status has a tone the palette defines.
	for s := range statusLooks {
		_, ok := Palette["light"].Tones[s.Tone()]
		require.True(t, ok, "status %q", s)
	}
}

var cssVar = regexp.MustCompile(`(--[a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`)

// TestStylesheetUsesThePalette: the CSS custom properties are exactly the
// checked colours, the light ones at the top, the dark ones in the
// prefers-color-scheme: dark block.
func TestStylesheetUsesThePalette(t *testing.T) {
	t.Parallel()
	css := string(mustRead(t, "app.css"))
	light, dark, ok := strings.Cut(css, "@media (prefers-color-scheme: dark)")
	require.True(t, ok, "app.css has a dark theme block")
	dark, _, _ = strings.Cut(dark, "\n}\n")

	for theme, block := range map[string]string{"light": light, "dark": dark} {
		got := map[string]string{}
		for _, m := range cssVar.FindAllStringSubmatch(block, -1) {
			require.NotContains(t, got, m[1], "%s: %s defined twice", theme, m[1])
			got[m[1]] = strings.ToLower(m[2])
		}
		require.Equal(t, Palette[theme].cssVars(), got, "%s theme's custom properties in app.css", theme)
	}
	// Colours are used through the properties only, never written inline
	// elsewhere in the stylesheet.
	all := cssVar.FindAllString(css, -1)
	require.Len(t, all, len(Palette["light"].cssVars())+len(Palette["dark"].cssVars()))
	rest := cssVar.ReplaceAllString(css, "")
	require.NotRegexp(t, `#[0-9a-fA-F]{3,6}\b`, rest, "a colour outside the palette")
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(Static, name)
	require.NoError(t, err)
	return b
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
