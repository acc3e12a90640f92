package hooks_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/mailer"

	"github.com/marketchat/marketchat/hooks"
)

// smtpInbox is a real SMTP server on loopback that keeps what it gets.
type smtpInbox struct {
	addr *net.TCPAddr
	mu   sync.Mutex
	mail []receivedMail
}

// receivedMail is one e-mail as delivered: envelope, subject and the
// decoded text of every part.
type receivedMail struct {
	to      []string
	subject string
	body    string
}

func newSMTPInbox(t *testing.T) *smtpInbox {
	t.Helper()
	inbox := &smtpInbox{}
	server := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{inbox: inbox}, nil
	}))
	server.Domain = "localhost"
	server.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	inbox.addr = l.Addr().(*net.TCPAddr)
	go server.Serve(l)
	t.Cleanup(func() { server.Close() })
	return inbox
}

func (in *smtpInbox) received() []receivedMail {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]receivedMail(nil), in.mail...)
}

type smtpSession struct {
	inbox *smtpInbox
	to    []string
}

func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	var body strings.Builder
	if err := decodeParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &body); err != nil {
		return err
	}
	s.inbox.mu.Lock()
	defer s.inbox.mu.Unlock()
	s.inbox.mail = append(s.inbox.mail, receivedMail{to: s.to, subject: subject, body: body.String()})
	return nil
}

// decodeParts writes the decoded text of every part of a MIME body.
func decodeParts(contentType, encoding string, r io.Reader, out *strings.Builder) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err == nil && strings.HasPrefix(mediaType, "multipart/") {
		parts := multipart.NewReader(r, params["boundary"])
		for {
			part, err := parts.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := decodeParts(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, out); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	data, err := io.ReadAll(r)
	out.Write(data)
	out.WriteString("\n")
	return err
}

// emailJob runs the e-mail notices' cron job once.
func emailJob(t *testing.T, app core.App) {
	t.Helper()
	for _, job := range app.Cron().Jobs() {
		if job.Id() == hooks.EmailJobID {
			job.Run()
			return
		}
	}
	t.Fatalf("no cron job %q", hooks.EmailJobID)
}

// TestEmailNotices: with SMTP set up, a message unread for 10 minutes
// sends one e-mail (sender, post title, preview, link) in the recipient's
// language; none before; at most one per room per hour; none for a muted
// room, none with notify_email off, none without SMTP.
func TestEmailNotices(t *testing.T) {
	t.Parallel()
	inbox := newSMTPInbox(t)
	clock := newTestClock()
	start := clock.Now()
	app := newTestAppWithConfig(t, hooks.Config{Now: clock.Now})
	// tests.TestApp hands every e-mail to its TestMailer: hand it back to
	// an SMTP client of the settings, the real one.
	app.OnMailerSend().Bind(&hook.Handler[*core.MailerEvent]{
		Priority: -99998, // after the TestApp's
		Func: func(e *core.MailerEvent) error {
			e.Mailer = &mailer.SMTPClient{Host: app.Settings().SMTP.Host, Port: app.Settings().SMTP.Port}
			return e.Next()
		},
	})
	s := serveRealtime(t, app)

	// alice wants e-mails, in Korean; bob does not (he never turned them
	// on: fixture users are saved by Go code, without the sign-up default).
	s.mustRequest(t, http.MethodPatch, "/api/collections/users/records/"+alice, alice,
		map[string]any{"notify_email": true, "lang": "ko"}, http.StatusOK)
	s.mustRequest(t, http.MethodPost, "/api/rooms/"+roomGroup+"/mute", alice, map[string]any{"muted": true}, http.StatusNoContent)
	s.sendMessage(t, bob, roomBike, "Is it still for sale? <b>cash</b>")

	// No SMTP yet: nothing, however late.
	clock.Set(start.Add(30 * time.Minute))
	emailJob(t, app)
	settings := app.Settings()
	settings.SMTP.Enabled = true
	settings.SMTP.Host = "127.0.0.1"
	settings.SMTP.Port = inbox.addr.Port
	settings.Meta.AppURL = "https://chat.example.com"
	settings.Meta.SenderAddress = "noreply@example.com"
	if err := app.Save(settings); err != nil {
		t.Fatalf("save settings: %v", err)
	}
	if got := inbox.received(); len(got) != 0 {
		t.Fatalf("without SMTP %d e-mails were sent; want 0", len(got))
	}

	clock.Set(start.Add(5 * time.Minute))
	emailJob(t, app)
	if got := inbox.received(); len(got) != 0 {
		t.Fatalf("after 5 minutes %d e-mails: %v; want none yet", len(got), got)
	}

	clock.Set(start.Add(11 * time.Minute))
	emailJob(t, app)
	emailJob(t, app) // a second run does not send it again
	got := inbox.received()
	if len(got) != 1 {
		t.Fatalf("after 11 minutes %d e-mails: %v; want 1 (alice, roomBike; not the muted group, not bob)", len(got), got)
	}
	first := got[0]
	if len(first.to) != 1 || first.to[0] != emails[alice] {
		t.Errorf("e-mail to %v; want %s", first.to, emails[alice])
	}
	if !strings.Contains(first.subject, "Bob") || !strings.Contains(first.subject, "Bike") || !strings.Contains(first.subject, "새 메시지") {
		t.Errorf("subject %q; want Bob, Bike, in Korean", first.subject)
	}
	for _, want := range []string{"Is it still for sale? <b>cash</b>", "Is it still for sale? &lt;b&gt;cash&lt;/b&gt;",
		"https://chat.example.com/#/room/" + roomBike, "채팅 열기"} {
		if !strings.Contains(first.body, want) {
			t.Errorf("e-mail body lacks %q:\n%s", want, first.body)
		}
	}
	if strings.Contains(first.body, "<b>cash</b></blockquote>") {
		t.Errorf("the HTML part carries the message as HTML; want it escaped")
	}

	// A newer message: not within the hour of the last e-mail.
	s.sendMessage(t, bob, roomBike, "hello again")
	clock.Set(start.Add(40 * time.Minute))
	emailJob(t, app)
	if n := len(inbox.received()); n != 1 {
		t.Fatalf("40 minutes in: %d e-mails; want still 1 (at most one per room per hour)", n)
	}
	clock.Set(start.Add(72 * time.Minute))
	emailJob(t, app)
	got = inbox.received()
	if len(got) != 2 || !strings.Contains(got[1].body, "hello again") {
		t.Fatalf("72 minutes in: %d e-mails (%v); want a second one about \"hello again\"", len(got), got)
	}

	// notify_email off: nothing more.
	s.mustRequest(t, http.MethodPatch, "/api/collections/users/records/"+alice, alice,
		map[string]any{"notify_email": false}, http.StatusOK)
	s.sendMessage(t, bob, roomBike, "anyone?")
	clock.Set(start.Add(200 * time.Minute))
	emailJob(t, app)
	if n := len(inbox.received()); n != 2 {
		t.Errorf("with notify_email off: %d e-mails; want still 2", n)
	}
	for _, m := range inbox.received() {
		if strings.Contains(m.body, roomGroup) || bytes.Contains([]byte(m.body), []byte("secret group plan")) {
			t.Errorf("an e-mail about the muted group was sent: %q", m.subject)
		}
	}
}

// TestNotifyEmailDefaultAndPrivacy: a sign-up gets notify_email true
// unless it says otherwise; others do not see it, nor lang.
func TestNotifyEmailDefaultAndPrivacy(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	for body, want := range map[string]bool{
		`{"email":"new1@example.com","password":"password123","passwordConfirm":"password123"}`:                      true,
		`{"email":"new2@example.com","password":"password123","passwordConfirm":"password123","notify_email":false}`: false,
	} {
		status, data := s.requestWithToken(t, http.MethodPost, "/api/collections/users/records", "", jsonRaw(body))
		if status != http.StatusOK {
			t.Fatalf("sign up %s = %d %s", body, status, data)
		}
		email := "new1@example.com"
		if !want {
			email = "new2@example.com"
		}
		user, err := s.app.FindAuthRecordByEmail("users", email)
		if err != nil {
			t.Fatal(err)
		}
		if got := user.GetBool("notify_email"); got != want {
			t.Errorf("sign-up %s: notify_email = %v; want %v", body, got, want)
		}
	}

	s.mustRequest(t, http.MethodPatch, "/api/collections/users/records/"+alice, alice,
		map[string]any{"notify_email": true, "lang": "ko"}, http.StatusOK)
	own := s.mustRequest(t, http.MethodGet, "/api/collections/users/records/"+alice, alice, nil, http.StatusOK)
	if own["notify_email"] != true || own["lang"] != "ko" {
		t.Errorf("alice's own record: notify_email %v, lang %v; want true, ko", own["notify_email"], own["lang"])
	}
	other := s.mustRequest(t, http.MethodGet, "/api/collections/users/records/"+alice, bob, nil, http.StatusOK)
	for _, field := range []string{"notify_email", "lang"} {
		if _, ok := other[field]; ok {
			t.Errorf("bob sees alice's %s = %v; want it hidden", field, other[field])
		}
	}
	if status, data := s.request(t, http.MethodGet, "/api/collections/users/records?filter="+
		"notify_email%3Dtrue", bob, nil); status != http.StatusBadRequest {
		t.Errorf("bob filters users by notify_email = %d %s; want 400", status, data)
	}
}

// jsonRaw is a raw JSON body for requestWithToken.
type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }
