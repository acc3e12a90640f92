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
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
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
