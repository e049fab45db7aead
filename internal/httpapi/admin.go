package httpapi

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/echogen/server/internal/echogen"
)

// AdminJobsPath is where the job dashboard (Deps.Admin) is mounted; build
// the dashboard for this prefix.
const AdminJobsPath = "/admin/jobs"

const (
	adminLoginPath  = "/admin/login"
	adminLogoutPath = "/admin/logout"
	// adminCookie holds an administrator's access token for the browser
	// pages under /admin, which send no Authorization header.
	adminCookie = "echogen_admin"
	// maxLoginForm caps the login form's body.
	maxLoginForm = 16 << 10
)

// admin guards the operator pages: the caller must be signed in (bearer
// token, or the admin cookie that the login form sets) with an email
// address listed in ADMIN_EMAILS.
type admin struct {
	s      *Server
	emails map[string]bool
}

// registerAdmin mounts the login and logout pages and, behind the admin
// check, the job dashboard.
func (s *Server) registerAdmin(router chi.Router, dashboard http.Handler, emails []string) {
	a := &admin{s: s, emails: map[string]bool{}}
	for _, e := range emails {
		if e = normalizeEmail(e); e != "" {
			a.emails[e] = true
		}
	}
	if len(a.emails) == 0 {
		s.log.Warn("no ADMIN_EMAILS: the job dashboard at " + AdminJobsPath + " refuses everyone")
	}
	router.Get("/admin", a.redirect(AdminJobsPath+"/"))
	router.Get(adminLoginPath, a.loginForm)
	router.Post(adminLoginPath, a.login)
	router.Post(adminLogoutPath, a.logout)
	gated := a.gate(dashboard)
	router.Handle(AdminJobsPath, gated)
	router.Handle(AdminJobsPath+"/*", gated)
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// checkAdmin passes a caller whose email address is listed in ADMIN_EMAILS
// and confirmed: without the confirmation anyone could sign up under an
// administrator's address before the administrator does.
func (a *admin) checkAdmin(ctx context.Context, p *echogen.Principal, what string) error {
	if e := normalizeEmail(p.Email); e == "" || !a.emails[e] {
		return echogen.Errorf(echogen.KindPermissionDenied, "not_admin", "This account is not an administrator: only administrators may %s", what)
	}
	acct, err := a.s.accounts.Me(ctx, *p)
	if err != nil {
		return err
	}
	if acct.Identity.EmailConfirmedAt == nil {
		return echogen.Errorf(echogen.KindPermissionDenied, "admin_email_not_confirmed",
			"Confirm this account's email address before using it as an administrator")
	}
	return nil
}

// pageHeaders keep the admin pages out of frames (the dashboard has
// buttons that cancel and delete jobs) and out of caches.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// gate lets administrators through to next. Without a valid token a
// browser is sent to the login page and anything else gets a 401;
// signed-in callers who are not administrators get a 403. Callers count
// against the per-user API rate limit.
func (a *admin) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w)
		token, fromCookie := adminToken(r)
		if token == "" {
			a.unauthenticated(w, r, echogen.Errorf(echogen.KindUnauthenticated, "missing_token", "Missing Bearer token"), false)
			return
		}
		p, err := a.s.accounts.Authenticate(r.Context(), token)
		if err != nil {
			a.unauthenticated(w, r, err, fromCookie)
			return
		}
		requestInfoFrom(r.Context()).userID = p.UserID
		if ok, retry := a.s.apiLimit.Allow(p.UserID); !ok {
			writeError(w, r, rateLimited(retry))
			return
		}
		if err := a.checkAdmin(r.Context(), p, "open the job dashboard"); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminToken is the request's bearer token, else its admin cookie's.
func adminToken(r *http.Request) (token string, fromCookie bool) {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok, false
		}
	}
	if c, err := r.Cookie(adminCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// unauthenticated answers a caller without a valid token: a browser goes
// to the login page, anything else gets err (a 401 with WWW-Authenticate,
// or a 5xx when checking the token failed). A cookie that did not work is
// removed.
func (a *admin) unauthenticated(w http.ResponseWriter, r *http.Request, err error, fromCookie bool) {
	if echogen.ErrorKind(err) != echogen.KindUnauthenticated {
		writeError(w, r, err)
		return
	}
	if fromCookie {
		a.setCookie(w, r, "", -1)
	}
	if wantsHTML(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, adminLoginPath, http.StatusSeeOther)
		return
	}
	writeError(w, r, err)
}

// wantsHTML reports whether the request is a browser navigating to a page.
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// setCookie sets the admin cookie to token for maxAge seconds; a negative
// maxAge deletes it. It is sent only to /admin, only by this site, never
// to scripts, and only over TLS when the request came over TLS.
func (a *admin) setCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     adminCookie,
		Value:    token,
		Path:     "/admin",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   strings.HasPrefix(requestInfoFrom(r.Context()).baseURL, "https://"),
		SameSite: http.SameSiteStrictMode,
	})
}

func (a *admin) redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusSeeOther) }
}

func (a *admin) loginForm(w http.ResponseWriter, r *http.Request) {
	a.renderLogin(w, r, http.StatusOK, loginPage{})
}

// login signs in with the form's email and password. An administrator
// gets the admin cookie and goes to the dashboard; anyone else sees the
// form again with the reason, and the session just opened for a
// non-administrator is closed again.
func (a *admin) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, r, http.StatusBadRequest, loginPage{Message: "The form could not be read; try again."})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	page := loginPage{Email: email}
	fail := func(err error) {
		resp := toErrorResponse(requestInfoFrom(ctx), err)
		for k, v := range resp.headers {
			if k != "Www-Authenticate" {
				w.Header()[k] = v
			}
		}
		page.Message = "Sign-in failed."
		if msg, ok := resp.Detail.(string); ok && resp.status < 500 {
			page.Message = msg
		}
		a.renderLogin(w, r, resp.status, page)
	}
	if err := a.s.limitAuth(ctx, "signin", email); err != nil {
		fail(err)
		return
	}
	res, err := a.s.accounts.SignIn(ctx, echogen.Credentials{
		Method: echogen.MethodEmail, Email: email, Password: r.PostForm.Get("password"),
		Client: clientInfo(ctx, r.UserAgent()),
	})
	if err != nil {
		fail(err)
		return
	}
	p, err := a.s.accounts.Authenticate(ctx, res.Tokens.AccessToken)
	if err != nil {
		fail(err)
		return
	}
	requestInfoFrom(ctx).userID = p.UserID
	if err := a.checkAdmin(ctx, p, "sign in here"); err != nil {
		if err := a.s.accounts.SignOut(ctx, *p, echogen.SignOutLocal); err != nil {
			requestInfoFrom(ctx).log.Warn("close a non-administrator's dashboard session", "error", err.Error())
		}
		fail(err)
		return
	}
	a.setCookie(w, r, res.Tokens.AccessToken, max(1, int(res.Tokens.ExpiresIn/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, AdminJobsPath+"/", http.StatusSeeOther)
}

// logout ends the cookie's session and removes the cookie.
func (a *admin) logout(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if c, err := r.Cookie(adminCookie); err == nil && c.Value != "" {
		if p, err := a.s.accounts.Authenticate(r.Context(), c.Value); err == nil {
			requestInfoFrom(r.Context()).userID = p.UserID
			if err := a.s.accounts.SignOut(r.Context(), *p, echogen.SignOutLocal); err != nil {
				requestInfoFrom(r.Context()).log.Warn("end the dashboard session", "error", err.Error())
			}
		} else if echogen.ErrorKind(err) != echogen.KindUnauthenticated {
			writeError(w, r, err)
			return
		}
	}
	a.setCookie(w, r, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, adminLoginPath, http.StatusSeeOther)
}

type loginPage struct {
	Email   string
	Message string
}

// loginTemplate is the whole login page: no script, no outside asset.
var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EchoGen admin: sign in</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f4f6;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);width:20rem}
h1{font-size:1.25rem;margin:0 0 1rem}
label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1.25rem;width:100%;padding:.6rem;font-size:1rem}
p.message{color:#a40000;margin:0 0 .5rem}
</style>
</head>
<body>
<form method="post" action="/admin/login">
<h1>EchoGen job dashboard</h1>
{{if .Message}}<p class="message" role="alert">{{.Message}}</p>{{end}}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`))

func (a *admin) renderLogin(w http.ResponseWriter, r *http.Request, status int, page loginPage) {
	pageHeaders(w)
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	var b strings.Builder
	if err := loginTemplate.Execute(&b, page); err != nil {
		writeError(w, r, fmt.Errorf("render the login page: %w", err))
		return
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
