package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Photos in the browser: shrunk before they are uploaded.

// TestBrowserPhotoShrunkBeforeUpload: a 4000 × 3000 PNG picked for a post
// is stored at most 2048 pixels on its longest side, re-encoded (WebP in
// chromium), with its aspect ratio kept.
func TestBrowserPhotoShrunkBeforeUpload(t *testing.T) {
	s, ctx := startBrowserTest(t, 3*time.Minute)

	const width, height = 4000, 3000
	photo := writeSizedPNG(t, width, height)
	seller := openBrowser(ctx, t, "seller", s.URL, "en-US,en")
	seller.signUp("Mina the seller", "seller@example.com")
	seller.click(`a.fab`)
	seller.waitVisible(`input[name="title"]`)
	seller.do(chromedp.SetUploadFiles(chromedp.CSS(`input[name="images"]`), []string{photo}))
	seller.waitJS("the photo preview", `document.querySelectorAll('.photo-tile img').length === 1`)
	seller.typeInto(`input[name="title"]`, "Big photo")
	seller.typeInto(`input[name="price"]`, "100")
	seller.click(`form button[type="submit"]`)
	seller.waitJS("the new post's page", `location.hash.startsWith('#/post/')`)

	postID := strings.TrimPrefix(evalJS[string](seller, `location.hash`), "#/post/")
	var post struct{ Images []string }
	if st := s.do(t, "GET", "/api/collections/posts/records/"+postID, "", nil, &post); st != http.StatusOK || len(post.Images) != 1 {
		t.Fatalf("the post %q = %d %+v; want 200 with one image", postID, st, post)
	}
	if name := post.Images[0]; !strings.HasSuffix(name, ".webp") && !strings.HasSuffix(name, ".jpg") {
		t.Errorf("stored file %q; want a .webp or .jpg (re-encoded)", name)
	}
	fileURL := "/api/files/posts/" + postID + "/" + post.Images[0]
	// The browser decodes the stored file, whatever its format.
	seller.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const img = new Image();
		img.onload = () => { window.__stored = [img.naturalWidth, img.naturalHeight]; };
		img.src = ` + jsString(fileURL) + `;
	})()`))
	seller.waitJS("the stored photo decodes", `Array.isArray(window.__stored)`)
	got := evalJS[[]int](seller, `window.__stored`)
	if len(got) != 2 || max(got[0], got[1]) > 2048 || got[0] != 2048 || got[1] != 1536 {
		t.Errorf("stored photo is %v pixels; want 2048 × 1536 (the 4000 × 3000 original, longest side 2048)", got)
	}
	seller.checkConsole()
}
