package hooks

import (
	"strings"
	"unicode"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"golang.org/x/text/unicode/norm"
)

// registerUsers normalises display names on every save (API, dashboard and
// Go), so that the 50-character limit counts what is shown and a name
// cannot disguise itself or reorder the text around it.
func registerUsers(app core.App) {
	app.OnRecordValidate(usersCollection).BindFunc(func(e *core.RecordEvent) error {
		if err := checkText(e.Record, "name"); err != nil {
			return err
		}
		if name, ok := e.Record.GetRaw("name").(string); ok {
			if clean := normalizeName(name); clean != name {
				e.Record.Set("name", clean)
			}
		}
		return e.Next()
	})

	// A name sent as an object or a list would be stored as "".
	for _, h := range []*hook.TaggedHook[*core.RecordRequestEvent]{
		app.OnRecordCreateRequest(usersCollection), app.OnRecordUpdateRequest(usersCollection),
	} {
		h.BindFunc(func(e *core.RecordRequestEvent) error {
			if err := checkBodyKinds(e, nil, []string{"name"}); err != nil {
				return err
			}
			return e.Next()
		})
	}
}

// normalizeName returns name in NFC with control characters and bidi
// embedding/override/isolate marks removed, every run of whitespace made
// one space, and no leading or trailing space. Zero-width joiners stay:
// emoji sequences need them.
func normalizeName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	space := false
	for _, r := range norm.NFC.String(name) {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), isBidiControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isBidiControl reports the marks that change the direction of the text
// around them (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
