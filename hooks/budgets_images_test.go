package hooks_test

// Image size limit (budgets.go): an image whose header says more than
// MaxImagePixels, or cannot be read, is refused with 400 naming the field
// and nothing is stored. The images here are made to measure: a header
// that claims the pixels, a few bytes behind it.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"
)

// budgetsPNG returns a valid PNG of w × h black pixels at 1 bit each: a
// few KB however many pixels it says, as an attack would send it.
func budgetsPNG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		tb.Fatalf("zlib.NewWriterLevel() error = %v", err)
	}
	row := make([]byte, 1+(w+7)/8) // filter type 0, then the bits
	for range h {
		if _, err := zw.Write(row); err != nil {
			tb.Fatalf("compress PNG rows: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("compress PNG rows: %v", err)
	}
	ihdr := make([]byte, 13) // bit depth 1, grayscale, no interlace
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 1
	out := bytes.NewBufferString("\x89PNG\r\n\x1a\n")
	for _, c := range []struct {
		kind string
		data []byte
	}{{"IHDR", ihdr}, {"IDAT", idat.Bytes()}, {"IEND", nil}} {
		header := binary.BigEndian.AppendUint32(nil, uint32(len(c.data)))
		out.Write(append(header, c.kind...))
		out.Write(c.data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(c.kind))
		crc.Write(c.data)
		out.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	}
	return out.Bytes()
}

// budgetsJPEG returns an 8 × 8 JPEG whose frame header (SOF0) says w × h.
func budgetsJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		tb.Fatalf("jpeg.Encode() error = %v", err)
	}
	b := buf.Bytes()
	sof := bytes.Index(b, []byte{0xFF, 0xC0}) // marker, length, precision, height, width
	if sof < 0 {
		tb.Fatal("no SOF0 marker in the encoded JPEG")
	}
	binary.BigEndian.PutUint16(b[sof+5:], uint16(h))
	binary.BigEndian.PutUint16(b[sof+7:], uint16(w))
	return b
}

// budgetsGIF returns a 1 × 1 GIF on a logical screen of w × h.
func budgetsGIF(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	m := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White})
	if err := gif.Encode(&buf, m, nil); err != nil {
		tb.Fatalf("gif.Encode() error = %v", err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint16(b[6:], uint16(w)) // after "GIF89a"
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	return b
}

// budgetsWebP returns a WebP made of a VP8X header whose canvas is w × h.
func budgetsWebP(w, h int) []byte {
	vp8x := make([]byte, 10) // flags, reserved, width-1 and height-1 in 24 bits
	vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	body := append([]byte("WEBPVP8X"), binary.LittleEndian.AppendUint32(nil, 10)...)
	body = append(body, vp8x...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// TestBudgetsImagePixels: an image whose header says more than 40
// megapixels, or cannot be read, is refused with 400 naming the field on
// posts, avatars and attachments, for users and superusers alike, and
// nothing is stored; 40 megapixels and less are accepted.
func TestBudgetsImagePixels(t *testing.T) {
	t.Parallel()
	huge := budgetsPNG(t, 8000, 6000)
	tooLarge := func(field string) []string {
		return badInputNaming(http.StatusBadRequest, field, "validation_image_too_large")
	}
	newPost := map[string]string{"title": "Poster"}
	bobsMessage := map[string]string{"room": roomBike, "text": "look"}
	signUp := map[string]string{"email": "new@example.com", "password": password, "passwordConfirm": password}

	type row struct {
		name, actor, method, url string
		fields                   map[string]string
		files                    []upload
		want                     []string
	}
	refused := []row{
		{
			name: "bob creates a post with an 8000×6000 PNG", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "huge.png", huge}}, want: tooLarge("images"),
		},
		{
			name: "bob creates a post with an 8000×5001 PNG", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "over.png", budgetsPNG(t, 8000, 5001)}}, want: tooLarge("images"),
		},
		{
			name: "bob creates a post with a small PNG and an 8000×6000 one", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "small.png", tinyPNG(t)}, {"images", "huge.png", huge}},
			want: tooLarge("images"),
		},
		{
			name: "bob creates a post with an 8000×6000 JPEG", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "huge.jpg", budgetsJPEG(t, 8000, 6000)}}, want: tooLarge("images"),
		},
		{
			name: "bob creates a post with an 8000×6000 GIF", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "huge.gif", budgetsGIF(t, 8000, 6000)}}, want: tooLarge("images"),
		},
		{
			name: "bob creates a post with an 8000×6000 WebP", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "huge.webp", budgetsWebP(8000, 6000)}}, want: tooLarge("images"),
		},
		{
			name: "bob creates a post with a PNG whose header is broken", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "broken.png", []byte("\x89PNG\r\n\x1a\nnot a chunk at all")}},
			want: badInputNaming(http.StatusBadRequest, "images", "validation_image_unreadable"),
		},
		{
			name: "alice adds an 8000×6000 PNG to her bike", actor: alice, method: http.MethodPatch, url: budgetsPostsURL + "/" + postBike,
			files: []upload{{"images", "huge.png", huge}}, want: tooLarge("images"),
		},
		{
			name: "superuser creates a post for carol with an 8000×6000 PNG", actor: "superuser", method: http.MethodPost, url: budgetsPostsURL,
			fields: map[string]string{"title": "Poster", "author": carol}, files: []upload{{"images", "huge.png", huge}},
			want: tooLarge("images"),
		},
		{
			name: "alice sets an 8000×6000 avatar", actor: alice, method: http.MethodPatch, url: budgetsUsersURL + "/" + alice,
			files: []upload{{"avatar", "huge.png", huge}}, want: tooLarge("avatar"),
		},
		{
			name: "superuser sets alice's avatar to an 8000×6000 PNG", actor: "superuser", method: http.MethodPatch, url: budgetsUsersURL + "/" + alice,
			files: []upload{{"avatar", "huge.png", huge}}, want: tooLarge("avatar"),
		},
		{
			name: "guest signs up with an 8000×6000 avatar", actor: "", method: http.MethodPost, url: budgetsUsersURL,
			fields: signUp, files: []upload{{"avatar", "huge.png", huge}}, want: tooLarge("avatar"),
		},
		{
			name: "bob sends an 8000×6000 attachment", actor: bob, method: http.MethodPost, url: budgetsMessagesURL,
			fields: bobsMessage, files: []upload{{"attachments", "huge.png", huge}}, want: tooLarge("attachments"),
		},
		{
			name: "superuser sends an 8000×6000 attachment as bob", actor: "superuser", method: http.MethodPost, url: budgetsMessagesURL,
			fields: map[string]string{"room": roomBike, "sender": bob, "text": "look"}, files: []upload{{"attachments", "huge.png", huge}},
			want: tooLarge("attachments"),
		},
	}
	for _, r := range refused {
		body, headers := multipartForm(t, r.actor, r.fields, r.files...)
		s := budgetsRefused(tests.ApiScenario{
			Name: r.name, Method: r.method, URL: r.url, Body: body, Headers: headers,
			ExpectedStatus: http.StatusBadRequest, ExpectedContent: r.want,
			ExpectedEvents: createOrUpdate(r.method, createInvalidEvents, updateInvalidEvents),
		})
		s.Test(t)
	}

	accepted := []row{
		{
			name: "bob creates a post with an 8000×5000 PNG (40 megapixels)", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "limit.png", budgetsPNG(t, 8000, 5000)}}, want: []string{`"images":["limit_`},
		},
		{
			name: "bob creates a post with a small PNG, JPEG, GIF and WebP", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{
				{"images", "small.png", budgetsPNG(t, 640, 480)},
				{"images", "small.jpg", budgetsJPEG(t, 8, 8)},
				{"images", "small.gif", budgetsGIF(t, 1, 1)},
				{"images", "small.webp", budgetsWebP(1000, 1000)},
			},
			want: []string{`"images":["small_`},
		},
		{
			name: "alice sets a 1000×1000 avatar", actor: alice, method: http.MethodPatch, url: budgetsUsersURL + "/" + alice,
			files: []upload{{"avatar", "portrait.png", budgetsPNG(t, 1000, 1000)}}, want: []string{`"avatar":"portrait_`},
		},
		{
			name: "bob sends a small attachment", actor: bob, method: http.MethodPost, url: budgetsMessagesURL,
			fields: bobsMessage, files: []upload{{"attachments", "small.png", tinyPNG(t)}}, want: []string{`"attachments":["small_`},
		},
	}
	for _, r := range accepted {
		body, headers := multipartForm(t, r.actor, r.fields, r.files...)
		s := tests.ApiScenario{
			Name: r.name, Method: r.method, URL: r.url, Body: body, Headers: headers,
			ExpectedStatus: http.StatusOK, ExpectedContent: r.want, TestAppFactory: newTestApp,
			ExpectedEvents: createOrUpdate(r.method, createdEvents, updatedEvents),
		}
		s.Test(t)
	}
}

// TestBudgetsImagePixelsReadsOnlyTheHeader: refusing a 20000×20000 PNG
// (a 400-megapixel image in a few dozen KB) allocates nothing near what
// decoding it would (400 MB at one byte a pixel).
func TestBudgetsImagePixelsReadsOnlyTheHeader(t *testing.T) {
	// Not parallel: it counts the process's allocations.
	bomb := budgetsPNG(t, 20000, 20000)
	body, headers := multipartForm(t, bob, map[string]string{"title": "Bomb"}, upload{"images", "bomb.png", bomb})
	app := newTestApp(t)
	h := appHandler(t, app)
	req := httptest.NewRequest(http.MethodPost, budgetsPostsURL, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := httptest.NewRecorder()
	h.ServeHTTP(res, req)
	runtime.ReadMemStats(&after)

	if res.Code != http.StatusBadRequest || !strings.Contains(res.Body.String(), `"images":{"code":"validation_image_too_large"`) {
		t.Fatalf("POST a %d-byte 20000×20000 PNG = %d %s; want 400 naming images", len(bomb), res.Code, res.Body)
	}
	const most = 64 << 20
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > most {
		t.Errorf("refusing the PNG allocated %d MB; want at most %d MB (decoding it would take 400 MB)", allocated>>20, most>>20)
	}
}
