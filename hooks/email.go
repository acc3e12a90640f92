package hooks

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/mailer"
	"github.com/pocketbase/pocketbase/tools/types"
)

// E-mail when push is not there: once SMTP is configured in the dashboard
// (Settings → Mail settings), a participant with a message from others
// that has been unread for EmailAfter gets one e-mail for that room (the
// sender, the post's title, a preview and a link to the room), at most
// one per room every EmailEvery and never twice about the same messages;
// not for muted rooms, not when the sender is blocked (Config.BlockedBy),
// and not for users who turned users.notify_email off. The e-mail is in
// the user's language (users.lang, which the web app sets), else English.
//
// A PocketBase cron job (EmailJobID) looks every minute; it reads the
// clock from Config.Now, so tests run it by hand with the clock moved on.
//
// users.notify_email defaults to true for sign-ups that do not send it
// (a bool field's own default is false), and notify_email and lang are
// shown only to their owner (and superusers).

const (
	usersNotifyEmailField = "notify_email"
	usersLangField        = "lang"
	roomEmailsCollection  = "room_emails"

	// EmailJobID is the cron job that sends the e-mail notices.
	EmailJobID = "marketchatEmailNotices"

	// EmailAfter is how long a message stays unread before its e-mail.
	EmailAfter = 10 * time.Minute

	// EmailEvery is the least time between two e-mails about one room.
	EmailEvery = time.Hour

	// emailLookBack bounds the rooms a run looks at: those with a message
	// in the last day (a server that was down longer does not send
	// e-mails about day-old messages).
	emailLookBack = 24 * time.Hour
)

func registerEmail(app core.App, config Config) {
	now := config.Now
	if now == nil {
		now = time.Now
	}
	notices := &emailNotices{app: app, now: now, blockedBy: config.BlockedBy}

	app.OnRecordCreateRequest(usersCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		info, err := e.RequestInfo()
		if err != nil {
			return err
		}
		if _, given := info.Body[usersNotifyEmailField]; !given {
			e.Record.Set(usersNotifyEmailField, true)
		}
		return e.Next()
	})

	app.OnRecordEnrich(usersCollection).BindFunc(func(e *core.RecordEnrichEvent) error {
		viewer := (*core.Record)(nil)
		if e.RequestInfo != nil {
			viewer = e.RequestInfo.Auth
		}
		if viewer == nil || (!viewer.IsSuperuser() && viewer.Id != e.Record.Id) {
			e.Record.Hide(usersNotifyEmailField, usersLangField)
		}
		return e.Next()
	})

	app.Cron().MustAdd(EmailJobID, "* * * * *", notices.run)
}

// emailNotices sends the e-mails of one cron run.
type emailNotices struct {
	app       core.App
	now       func() time.Time
	blockedBy func(app core.App, recipientID, senderID string) bool
	running   sync.Mutex // one run at a time: a slow SMTP server must not pile runs up
}

// emailDue is a participant with unread messages old enough.
type emailDue struct {
	Room string `db:"room"`
	User string `db:"user"`
}

// emailDueQuery finds the participants due an e-mail: notify_email on,
// the room not muted, a message from others unread for EmailAfter that is
// newer than the newest one their last e-mail about the room told about,
// which went out EmailEvery ago or more.
const emailDueQuery = `
SELECT r.id AS room, p.value AS user
FROM rooms r, json_each(r.participants) p
JOIN users u ON u.id = p.value AND u.notify_email = TRUE AND u.email != ''
LEFT JOIN room_reads rr ON rr.room = r.id AND rr.user = p.value
LEFT JOIN room_emails re ON re.room = r.id AND re.user = p.value
WHERE r.last_message_at >= {:since}
  AND (re.sent_at IS NULL OR re.sent_at <= {:every})
  AND NOT EXISTS (SELECT 1 FROM room_mutes rm WHERE rm.room = r.id AND rm.user = p.value)
  AND EXISTS (SELECT 1 FROM messages m
    WHERE m.room = r.id AND m.sender != p.value AND m.sender != ''
      AND m.created > COALESCE(rr.last_read_at, '')
      AND m.created > COALESCE(re.covered, '')
      AND m.created <= {:after})`

// run sends the e-mails due now. Errors are logged: the next run tries
// again.
func (n *emailNotices) run() {
	if !n.app.Settings().SMTP.Enabled {
		return
	}
	if !n.running.TryLock() {
		return
	}
	defer n.running.Unlock()

	now := n.now().UTC()
	var due []emailDue
	err := n.app.DB().NewQuery(emailDueQuery).Bind(dbx.Params{
		"since": dateString(now.Add(-emailLookBack)),
		"every": dateString(now.Add(-EmailEvery)),
		"after": dateString(now.Add(-EmailAfter)),
	}).All(&due)
	if err != nil {
		n.app.Logger().Warn("e-mail notices: find due", "error", err)
		return
	}
	for _, d := range due {
		if err := n.send(d, now); err != nil {
			n.app.Logger().Warn("e-mail notice failed", "room", d.Room, "user", d.User, "error", err)
		}
	}
}

// dateString is t as PocketBase stores dates, for comparisons in SQL.
func dateString(t time.Time) string {
	dt, _ := types.ParseDateTime(t) // a time.Time always parses
	return dt.String()
}

// send e-mails d.User about d.Room's newest unread message and records
// when.
func (n *emailNotices) send(d emailDue, now time.Time) error {
	user, err := n.app.FindRecordById(usersCollection, d.User)
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	room, err := n.app.FindRecordById(roomsCollection, d.Room)
	if err != nil {
		return fmt.Errorf("find room: %w", err)
	}
	var read struct {
		At string `db:"last_read_at"`
	}
	err = n.app.DB().NewQuery("SELECT last_read_at FROM room_reads WHERE room = {:room} AND user = {:user}").
		Bind(dbx.Params{"room": d.Room, "user": d.User}).One(&read)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: nothing read yet
		return fmt.Errorf("find read state: %w", err)
	}
	messages, err := n.app.FindRecordsByFilter(messagesCollection,
		"room = {:room} && sender != {:user} && sender != '' && created > {:read}", "-created", 1, 0,
		dbx.Params{"room": d.Room, "user": d.User, "read": read.At})
	if err != nil || len(messages) == 0 {
		return fmt.Errorf("find newest unread message: %v", err)
	}
	message := messages[0]
	senderID := message.GetString("sender")
	if n.blockedBy != nil && n.blockedBy(n.app, d.User, senderID) {
		return nil
	}
	notice := emailNotice{Preview: preview(message), Link: strings.TrimRight(n.app.Settings().Meta.AppURL, "/") + roomPagePath + room.Id}
	if sender, err := n.app.FindRecordById(usersCollection, senderID); err == nil {
		notice.Sender = sender.GetString("name")
	}
	if postID := room.GetString("post"); postID != "" {
		if post, err := n.app.FindRecordById(postsCollection, postID); err == nil {
			notice.Post = post.GetString("title")
		}
	}
	words := emailWords[user.GetString(usersLangField)]
	if words.subject == "" {
		words = emailWords["en"]
	}
	var html bytes.Buffer
	if err := emailTemplate.Execute(&html, struct {
		emailNotice
		Words emailText
	}{notice, words.text(notice)}); err != nil {
		return fmt.Errorf("render e-mail: %w", err)
	}
	msg := &mailer.Message{
		From:    mail.Address{Name: n.app.Settings().Meta.SenderName, Address: n.app.Settings().Meta.SenderAddress},
		To:      []mail.Address{{Address: user.Email()}},
		Subject: words.subjectFor(notice),
		HTML:    html.String(),
		Text:    words.plain(notice),
	}
	if err := n.app.NewMailClient().Send(msg); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	_, err = n.app.DB().NewQuery(`INSERT INTO room_emails (id, room, user, sent_at, covered) VALUES ({:id}, {:room}, {:user}, {:at}, {:covered})
		ON CONFLICT (room, user) DO UPDATE SET sent_at = excluded.sent_at, covered = excluded.covered`).
		Bind(dbx.Params{"id": core.GenerateDefaultRandomId(), "room": d.Room, "user": d.User,
			"at": dateString(now), "covered": message.GetDateTime("created").String()}).
		Execute()
	if err != nil {
		return fmt.Errorf("record e-mail: %w", err)
	}
	return nil
}

// emailNotice is what one e-mail tells.
type emailNotice struct {
	Sender, Post, Preview, Link string
}

// emailText is the e-mail's words in one language, filled in.
type emailText struct {
	Heading, Open, Footer string
}

// emailLang holds one language's wording. Strings are formats filled with
// the sender's name and the post's title.
type emailLang struct {
	subject, subjectPost, heading, open, footer string
}

func (l emailLang) subjectFor(n emailNotice) string {
	if n.Post != "" {
		return fmt.Sprintf(l.subjectPost, n.Sender, n.Post)
	}
	return fmt.Sprintf(l.subject, n.Sender)
}

func (l emailLang) text(n emailNotice) emailText {
	return emailText{Heading: fmt.Sprintf(l.heading, n.Sender), Open: l.open, Footer: l.footer}
}

func (l emailLang) plain(n emailNotice) string {
	var b strings.Builder
	fmt.Fprintf(&b, l.heading+"\n", n.Sender)
	if n.Post != "" {
		fmt.Fprintf(&b, "%s\n", n.Post)
	}
	fmt.Fprintf(&b, "\n%s\n\n%s: %s\n\n%s\n", n.Preview, l.open, n.Link, l.footer)
	return b.String()
}

// emailWords are the e-mail's strings in the web app's languages
// (pb_public/js/i18n.js has the app's).
var emailWords = map[string]emailLang{
	"en": {
		subject:     "New message from %s",
		subjectPost: "New message from %s about %s",
		heading:     "%s sent you a message",
		open:        "Open the chat",
		footer:      "You get this e-mail because a message waited unread for 10 minutes. Turn these e-mails off on My page, or mute the chat.",
	},
	"ko": {
		subject:     "%s님의 새 메시지",
		subjectPost: "%s님의 새 메시지: %s",
		heading:     "%s님이 메시지를 보냈어요",
		open:        "채팅 열기",
		footer:      "메시지를 10분 동안 읽지 않아서 이 메일을 보냈어요. 나의 페이지에서 메일 알림을 끄거나 채팅 알림을 끌 수 있어요.",
	},
}

// emailTemplate escapes everything it is given (html/template): names,
// titles and messages are user text.
var emailTemplate = template.Must(template.New("email").Parse(`<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p><strong>{{.Words.Heading}}</strong></p>
{{if .Post}}<p style="color:#555">{{.Post}}</p>{{end}}
<blockquote style="margin:0;padding:8px 12px;border-left:3px solid #ff7e36">{{.Preview}}</blockquote>
<p><a href="{{.Link}}">{{.Words.Open}}</a></p>
<p style="color:#888;font-size:12px">{{.Words.Footer}}</p>
</body></html>`))
