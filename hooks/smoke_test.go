package hooks_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/tests"
)

func TestFixturesLoad(t *testing.T) {
	s := tests.ApiScenario{
		Name:            "bob lists his rooms",
		Method:          http.MethodGet,
		URL:             "/api/collections/rooms/records?sort=created",
		Headers:         auth(bob),
		TestAppFactory:  newTestApp,
		ExpectedStatus:  200,
		ExpectedContent: []string{`"totalItems":2`, `"id":"` + roomBike + `"`, `"unread":1`},
	}
	s.Test(t)
}
