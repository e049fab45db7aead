package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// scenario is one request and what must come back.
type scenario struct {
	name       string
	method     string
	path       string
	token      string // "" sends no Authorization header
	body       string
	wantStatus int
	wantKeys   []string // top-level keys the client requires
	wantCode   string   // the error's machine code
}

func (e *testEnv) runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		r := e.do(sc.method, sc.path, sc.token, sc.body)
		if r.status != sc.wantStatus {
			t.Errorf("%s: status %d, want %d; body %s", sc.name, r.status, sc.wantStatus, r.raw)
			continue
		}
		if len(sc.wantKeys) > 0 || sc.wantCode != "" {
			body := r.object(t)
			for _, k := range sc.wantKeys {
				if _, ok := body[k]; !ok {
					t.Errorf("%s: key %q missing from %s", sc.name, k, r.raw)
				}
			}
			if sc.wantCode != "" {
				if body["code"] != sc.wantCode {
					t.Errorf("%s: code %v, want %s; body %s", sc.name, body["code"], sc.wantCode, r.raw)
				}
				if _, ok := body["detail"]; !ok {
					t.Errorf("%s: error without detail: %s", sc.name, r.raw)
				}
				if body["request_id"] != r.header.Get("X-Request-ID") || r.header.Get("X-Request-ID") == "" {
					t.Errorf("%s: request id %v does not match header %q", sc.name, body["request_id"], r.header.Get("X-Request-ID"))
				}
			}
		}
		if r.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer", sc.name)
		}
	}
}

var profileKeys = []string{"id", "email", "fullName", "created_at", "last_sign_in_at", "avatarUrl", "bio", "preferences", "onboardingCompleted", "pendingAccountDeletion"}

func TestAuthEndpointScenarios(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		forEachAuth(t, func(t *testing.T, mode func(*envOptions)) {
			testAuthEndpointScenarios(t, newTestEnv(t, newStore, mode))
		})
	})
}

func testAuthEndpointScenarios(t *testing.T, e *testEnv) {
	revokeOther := struct {
		status int
		code   string
	}{404, "not_found"}
	if e.gotrue != nil {
		revokeOther.status, revokeOther.code = 501, "sessions_managed_by_supabase"
	}
	{
		ada := e.signUp("ada@example.com")
		bob := e.signUp("bob@example.com")
		pw := ada.password
		e.runScenarios(t, []scenario{
			// sign-up
			{"signup ok", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"cy@example.com","password":"longenough","fullName":"Cy"}`, 201, []string{"user", "session"}, ""},
			{"signup duplicate", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"ADA@example.com","password":"longenough"}`, 400, nil, "user_already_exists"},
			{"signup short password", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"dee@example.com","password":"short"}`, 422, nil, "validation_error"},
			{"signup bad email", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"not-an-email","password":"longenough"}`, 422, nil, "validation_error"},
			{"signup missing password", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":"dee@example.com"}`, 422, nil, "validation_error"},
			{"signup phone", "POST", "/api/v1/auth/signup", "", `{"method":"phone","phoneNumber":"+14155550123","password":"longenough"}`, 201, []string{"user", "session"}, ""},
			{"signup bad phone", "POST", "/api/v1/auth/signup", "", `{"method":"phone","phoneNumber":"555-0123","password":"longenough"}`, 422, nil, "validation_error"},
			{"signup google", "POST", "/api/v1/auth/signup", "", `{"method":"google"}`, 501, nil, "method_not_supported"},
			{"signup unknown method", "POST", "/api/v1/auth/signup", "", `{"method":"carrier-pigeon","email":"x@example.com","password":"longenough"}`, 422, nil, "validation_error"},
			{"signup malformed JSON", "POST", "/api/v1/auth/signup", "", `{"method":`, 422, nil, "validation_error"},
			{"signup wrong type", "POST", "/api/v1/auth/signup", "", `{"method":"email","email":42,"password":"longenough"}`, 422, nil, "validation_error"},
			// sign-in
			{"signin ok", "POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"` + pw + `"}`, 200, []string{"user", "session"}, ""},
			{"signin wrong password", "POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"wrong-password"}`, 401, nil, "invalid_credentials"},
			{"signin unknown user", "POST", "/api/v1/auth/signin", "", `{"method":"email","email":"nobody@example.com","password":"wrong-password"}`, 401, nil, "invalid_credentials"},
			{"signin phone", "POST", "/api/v1/auth/signin", "", `{"method":"phone","phoneNumber":"+14155550123","password":"longenough"}`, 200, []string{"user", "session"}, ""},
			{"signin apple", "POST", "/api/v1/auth/signin", "", `{"method":"apple"}`, 501, nil, "method_not_supported"},
			// me and users
			{"me ok", "GET", "/api/v1/auth/me", ada.access, "", 200, profileKeys, ""},
			{"me without token", "GET", "/api/v1/auth/me", "", "", 401, nil, "missing_token"},
			{"me garbage token", "GET", "/api/v1/auth/me", "garbage", "", 401, nil, "invalid_token"},
			{"users self", "GET", "/api/v1/auth/users/" + ada.userID, ada.access, "", 200, profileKeys, ""},
			{"users other", "GET", "/api/v1/auth/users/" + bob.userID, ada.access, "", 403, nil, "forbidden"},
			{"users malformed id", "GET", "/api/v1/auth/users/not-a-uuid", ada.access, "", 403, nil, "forbidden"},
			// profile
			{"profile empty patch", "PATCH", "/api/v1/auth/profile", ada.access, `{}`, 200, profileKeys, ""},
			{"profile ok", "PATCH", "/api/v1/auth/profile", ada.access, `{"fullName":"Ada L","bio":"Hi"}`, 200, profileKeys, ""},
			{"profile wrong type", "PATCH", "/api/v1/auth/profile", ada.access, `{"fullName":12}`, 422, nil, "validation_error"},
			{"profile bad avatar", "PATCH", "/api/v1/auth/profile", ada.access, `{"avatarUrl":"javascript:alert(1)"}`, 422, nil, "validation_error"},
			{"profile preferences not object", "PATCH", "/api/v1/auth/profile", ada.access, `{"preferences":[1,2]}`, 422, nil, "validation_error"},
			{"profile unknown field", "PATCH", "/api/v1/auth/profile", ada.access, `{"full_name":"x"}`, 422, nil, "validation_error"},
			{"profile no token", "PATCH", "/api/v1/auth/profile", "", `{}`, 401, nil, "missing_token"},
			// onboarding
			{"onboarding ok", "POST", "/api/v1/auth/onboarding", ada.access, `{"responses":[{"questionId":"q","question":"Q?","answer":"A"}]}`, 200, profileKeys, ""},
			{"onboarding snake alias", "POST", "/api/v1/auth/onboarding", ada.access, `{"responses":[{"question_id":"q","question":"Q?","answer":["A","B"]}]}`, 200, profileKeys, ""},
			{"onboarding missing responses", "POST", "/api/v1/auth/onboarding", ada.access, `{}`, 422, nil, "validation_error"},
			{"onboarding missing question id", "POST", "/api/v1/auth/onboarding", ada.access, `{"responses":[{"question":"Q?","answer":"A"}]}`, 422, nil, "validation_error"},
			// deletion window
			{"schedule deletion", "DELETE", "/api/v1/auth/account", ada.access, "", 200, []string{"scheduled_for", "requested_at", "cancelled_at", "completed_at"}, ""},
			{"cancel deletion", "POST", "/api/v1/auth/account/cancel", ada.access, "", 200, []string{"scheduled_for", "requested_at", "cancelled_at", "completed_at"}, ""},
			{"schedule deletion no token", "DELETE", "/api/v1/auth/account", "", "", 401, nil, "missing_token"},
			// sessions
			{"sessions list", "GET", "/api/v1/auth/sessions", ada.access, "", 200, nil, ""},
			// Supabase Auth lists no sessions, so another id cannot be told
			// apart from one of the caller's other sessions.
			{"revoke other user's session", "DELETE", "/api/v1/auth/sessions/" + echogen.NewID(), ada.access, "", revokeOther.status, nil, revokeOther.code},
			{"revoke malformed session id", "DELETE", "/api/v1/auth/sessions/xyz", ada.access, "", 404, nil, "not_found"},
			// refresh
			{"refresh unknown token", "POST", "/api/v1/auth/refresh", "", `{"refresh_token":"nope"}`, 401, nil, "invalid_refresh_token"},
			{"refresh missing token", "POST", "/api/v1/auth/refresh", "", `{}`, 422, nil, "validation_error"},
			// password and email
			{"forgot known", "POST", "/api/v1/auth/password/forgot", "", `{"email":"ada@example.com"}`, 202, []string{"message"}, ""},
			{"forgot unknown", "POST", "/api/v1/auth/password/forgot", "", `{"email":"nobody@example.com"}`, 202, []string{"message"}, ""},
			{"reset bad token", "POST", "/api/v1/auth/password/reset", "", `{"token":"nope","password":"new-password-1"}`, 400, nil, "invalid_token"},
			{"verify bad token", "POST", "/api/v1/auth/email/verify", "", `{"token":"nope"}`, 400, nil, "invalid_token"},
			{"resend unknown", "POST", "/api/v1/auth/email/resend", "", `{"email":"nobody@example.com"}`, 202, []string{"message"}, ""},
			// sign-out last: it ends bob's session
			{"signout", "POST", "/api/v1/auth/signout", bob.access, "", 204, nil, ""},
			{"signed-out token refused", "GET", "/api/v1/auth/me", bob.access, "", 401, nil, "session_revoked"},
		})
		forgotKnown := e.do("POST", "/api/v1/auth/password/forgot", "", `{"email":"ada@example.com"}`)
		forgotUnknown := e.do("POST", "/api/v1/auth/password/forgot", "", `{"email":"nobody@example.com"}`)
		if string(forgotKnown.raw) != string(forgotUnknown.raw) {
			t.Errorf("forgot-password answers differ for known and unknown accounts:\n%s\n%s", forgotKnown.raw, forgotUnknown.raw)
		}
		e.checkLogs()
	}
}

// TestContractRequestsReplayed sends the mobile client's requests byte for
// byte (contract §2.1) and reads the answers the way its Dart models do.
func TestContractRequestsReplayed(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		e.secrets = append(e.secrets, "s3cret-pass")

		signup := e.do("POST", "/api/v1/auth/signup", "", `{"method":"email","email":"ada@example.com","password":"s3cret-pass","fullName":"Ada Lovelace"}`)
		e.checkAuthResponse(t, signup, http.StatusCreated)
		user := signup.object(t)["user"].(map[string]any)
		if user["fullName"] != "Ada Lovelace" || user["onboardingCompleted"] != false || user["email"] != "ada@example.com" {
			t.Errorf("sign-up profile: %s", signup.raw)
		}

		signin := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"s3cret-pass"}`)
		e.checkAuthResponse(t, signin, http.StatusOK)
		token := signin.object(t)["session"].(map[string]any)["access_token"].(string)

		me := e.do("GET", "/api/v1/auth/me", token, "")
		checkProfile(t, me)
		if p := me.object(t); p["last_sign_in_at"] == nil || p["fullName"] != "Ada Lovelace" {
			t.Errorf("me after sign-in: %s", me.raw)
		}

		patched := e.do("PATCH", "/api/v1/auth/profile", token, `{"fullName":"Ada King","bio":"Analyst"}`)
		checkProfile(t, patched)
		if p := patched.object(t); p["fullName"] != "Ada King" || p["bio"] != "Analyst" {
			t.Errorf("profile after PATCH: %s", patched.raw)
		}

		onboarding := e.do("POST", "/api/v1/auth/onboarding", token, `{"responses":[{"questionId":"content_focus","question":"What type of podcasts do you want to create?","answer":"Storytelling"},{"questionId":"voice_style","question":"Pick a voice tone you love","answer":"Friendly"},{"questionId":"publishing_cadence","question":"How often do you plan to publish?","answer":"Weekly"}]}`)
		checkProfile(t, onboarding)
		p := onboarding.object(t)
		if p["onboardingCompleted"] != true {
			t.Errorf("onboarding not completed: %s", onboarding.raw)
		}
		ob := p["preferences"].(map[string]any)["onboarding"].(map[string]any)
		if len(ob["responses"].([]any)) != 3 || !strings.HasSuffix(ob["completedAt"].(string), "Z") {
			t.Errorf("preferences.onboarding: %v", ob)
		}
		// A later bootstrap still routes to the app (fixes M1).
		if me := e.do("GET", "/api/v1/auth/me", token, "").object(t); me["onboardingCompleted"] != true || me["fullName"] != "Ada King" {
			t.Errorf("me after onboarding: %v", me)
		}

		scheduled := e.do("DELETE", "/api/v1/auth/account", token, "")
		d := checkDeletionStatus(t, scheduled)
		if d["scheduled_for"] == nil || d["cancelled_at"] != nil {
			t.Errorf("scheduled deletion: %s", scheduled.raw)
		}
		if pending := e.do("GET", "/api/v1/auth/me", token, "").object(t)["pendingAccountDeletion"]; pending == nil {
			t.Error("me does not show the pending deletion")
		}
		cancelled := e.do("POST", "/api/v1/auth/account/cancel", token, "")
		if d := checkDeletionStatus(t, cancelled); d["cancelled_at"] == nil { // fixes M3
			t.Errorf("cancel must return the cancelled status: %s", cancelled.raw)
		}
		if again := e.do("POST", "/api/v1/auth/account/cancel", token, ""); again.status != 200 || strings.TrimSpace(string(again.raw)) != "null" {
			t.Errorf("cancel with nothing scheduled: %d %s", again.status, again.raw)
		}

		if out := e.do("POST", "/api/v1/auth/signout", token, ""); out.status != http.StatusNoContent || len(out.raw) != 0 {
			t.Errorf("sign-out: %d %q", out.status, out.raw)
		}
		if r := e.do("GET", "/api/v1/auth/me", token, ""); r.status != http.StatusUnauthorized {
			t.Errorf("token after sign-out: %d", r.status)
		}
		e.checkLogs()
	})
}

var isoUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$`)

func checkTimestamp(t *testing.T, what string, v any, nullable bool) {
	t.Helper()
	if v == nil && nullable {
		return
	}
	s, ok := v.(string)
	if !ok || !isoUTC.MatchString(s) {
		t.Errorf("%s = %#v, want an RFC 3339 UTC string with Z", what, v)
	}
}

func (e *testEnv) checkAuthResponse(t *testing.T, r response, wantStatus int) {
	t.Helper()
	if r.status != wantStatus {
		t.Fatalf("status %d, want %d: %s", r.status, wantStatus, r.raw)
	}
	body := r.object(t)
	session, ok := body["session"].(map[string]any)
	if !ok {
		t.Fatalf("session is not an object: %s", r.raw)
	}
	if tok, _ := session["access_token"].(string); tok == "" {
		t.Errorf("access_token missing: %s", r.raw)
	}
	if tok, _ := session["refresh_token"].(string); tok == "" {
		t.Errorf("refresh_token missing: %s", r.raw)
	}
	n, ok := session["expires_in"].(json.Number)
	if got, err := n.Int64(); !ok || err != nil || got != int64(e.tokenTTL().Seconds()) {
		t.Errorf("expires_in = %#v, want the integer %d", session["expires_in"], int64(e.tokenTTL().Seconds()))
	}
	checkProfileObject(t, body["user"])
}

func checkProfile(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	checkProfileObject(t, r.json(t))
}

func checkProfileObject(t *testing.T, v any) {
	t.Helper()
	p, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("profile is not an object: %#v", v)
	}
	for _, k := range profileKeys {
		if _, ok := p[k]; !ok {
			t.Errorf("profile key %q missing", k)
		}
	}
	if id, _ := p["id"].(string); !echogen.IsID(id) {
		t.Errorf("id = %#v", p["id"])
	}
	if _, ok := p["email"].(string); !ok {
		t.Errorf("email = %#v, want a string", p["email"])
	}
	checkTimestamp(t, "created_at", p["created_at"], false)
	checkTimestamp(t, "last_sign_in_at", p["last_sign_in_at"], true)
	if _, ok := p["onboardingCompleted"].(bool); !ok {
		t.Errorf("onboardingCompleted = %#v, want a bool", p["onboardingCompleted"])
	}
	if prefs := p["preferences"]; prefs != nil {
		if _, ok := prefs.(map[string]any); !ok {
			t.Errorf("preferences = %#v, want an object or null", prefs)
		}
	}
	if d := p["pendingAccountDeletion"]; d != nil {
		checkDeletionObject(t, d)
	}
}

func checkDeletionStatus(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	return checkDeletionObject(t, r.json(t))
}

func checkDeletionObject(t *testing.T, v any) map[string]any {
	t.Helper()
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("deletion status is not an object: %#v", v)
	}
	for _, k := range []string{"scheduled_for", "requested_at", "cancelled_at", "completed_at"} {
		if _, ok := d[k]; !ok {
			t.Errorf("deletion key %q missing", k)
		}
		checkTimestamp(t, k, d[k], true)
	}
	return d
}

func TestProfilePatchSemantics(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		ada := e.signUp("ada@example.com")
		steps := []struct {
			patch string
			want  map[string]any // expected values of these keys afterwards
		}{
			{`{"bio":"first","preferences":{"theme":"dark","tts":{"voice":"Kore","speed":1}}}`, map[string]any{"bio": "first", "fullName": "Test User", "preferences": map[string]any{"theme": "dark", "tts": map[string]any{"voice": "Kore", "speed": json.Number("1")}}}},
			{`{"preferences":{"tts":{"speed":null,"pitch":2}}}`, map[string]any{"preferences": map[string]any{"theme": "dark", "tts": map[string]any{"voice": "Kore", "pitch": json.Number("2")}}}},
			{`{"fullName":null}`, map[string]any{"fullName": nil, "bio": "first"}},
			{`{"avatarUrl":"https://cdn.example.com/a.png"}`, map[string]any{"avatarUrl": "https://cdn.example.com/a.png"}},
			{`{"avatarUrl":null,"preferences":null}`, map[string]any{"avatarUrl": nil, "preferences": nil, "bio": "first"}},
		}
		for i, st := range steps {
			r := e.do("PATCH", "/api/v1/auth/profile", ada.access, st.patch)
			if r.status != http.StatusOK {
				t.Fatalf("step %d: %d %s", i, r.status, r.raw)
			}
			got := r.object(t)
			for k, want := range st.want {
				if diff := cmp.Diff(want, got[k]); diff != "" {
					t.Errorf("step %d key %s (-want +got):\n%s", i, k, diff)
				}
			}
		}
		// A rejected patch changes nothing.
		before := e.do("GET", "/api/v1/auth/me", ada.access, "").raw
		if r := e.do("PATCH", "/api/v1/auth/profile", ada.access, `{"bio":"changed","avatarUrl":"ftp://x"}`); r.status != 422 {
			t.Fatalf("bad patch: %d", r.status)
		}
		if after := e.do("GET", "/api/v1/auth/me", ada.access, "").raw; string(after) != string(before) {
			t.Errorf("a rejected patch changed the profile:\n%s\n%s", before, after)
		}
	})
}

func TestRefreshTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada := e.signUp("ada@example.com")
		refresh := func(tok string) response {
			return e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+tok+`"}`)
		}

		// Normal use: each refresh returns a new pair that works.
		r1 := refresh(ada.refresh)
		e.checkAuthResponse(t, r1, http.StatusOK)
		s1 := e.sessionFrom(r1, ada.email, ada.password)
		if s1.refresh == ada.refresh {
			t.Fatal("refresh token was not rotated")
		}
		if r := e.do("GET", "/api/v1/auth/me", s1.access, ""); r.status != http.StatusOK {
			t.Fatalf("new access token: %d", r.status)
		}

		// Replay within the grace window (a retried request) is tolerated.
		e.clock.Advance(5 * time.Second)
		if r := refresh(ada.refresh); r.status != http.StatusOK {
			t.Fatalf("replay within grace: %d %s", r.status, r.raw)
		}

		// Two concurrent refreshes of the same token both succeed.
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = refresh(s1.refresh).status
			}()
		}
		wg.Wait()
		if diff := cmp.Diff([]int{200, 200}, statuses); diff != "" {
			t.Fatalf("concurrent refresh statuses (-want +got):\n%s", diff)
		}

		// Reuse after the grace window revokes the whole session.
		e.clock.Advance(time.Minute)
		r := refresh(ada.refresh)
		if r.status != http.StatusUnauthorized || r.object(t)["code"] != "refresh_token_reused" {
			t.Fatalf("reuse after grace: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/auth/me", s1.access, ""); r.status != http.StatusUnauthorized {
			t.Errorf("access token of a revoked session: %d", r.status)
		}
		if r := refresh(s1.refresh); r.status != http.StatusUnauthorized {
			t.Errorf("refresh of a revoked session: %d", r.status)
		}
	})
}

func TestAccessTokenRejections(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		ada := e.signUp("ada@example.com")
		header, payload, sig := splitJWT(t, ada.access)
		otherSecret := signHS256(t, header+"."+payload, "another-secret-of-enough-length-0123456789")
		tampered := strings.Replace(decodeSegment(t, payload), ada.userID, echogen.NewID(), 1)
		tests := []struct {
			name  string
			token string
		}{
			{"wrong secret", header + "." + payload + "." + otherSecret},
			{"alg none", encodeSegment(`{"alg":"none","typ":"JWT"}`) + "." + payload + "."},
			{"tampered payload", header + "." + encodeSegment(tampered) + "." + sig},
			{"truncated", header + "." + payload},
			{"not a JWT", "abc"},
		}
		for _, tc := range tests {
			r := e.do("GET", "/api/v1/auth/me", tc.token, "")
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
			}
		}
		// Revoked session, then expiry.
		other := e.signIn(ada.email, ada.password)
		if r := e.do("POST", "/api/v1/auth/signout?scope=others", other.access, ""); r.status != http.StatusNoContent {
			t.Fatalf("sign-out others: %d %s", r.status, r.raw)
		}
		if e.gotrue == nil {
			if r := e.do("GET", "/api/v1/auth/me", ada.access, ""); r.status != http.StatusUnauthorized {
				t.Errorf("revoked session: %d", r.status)
			}
		} else {
			// Tokens are checked locally (M21): another session's access
			// token lives until it expires, but Supabase Auth ended the
			// session, so its refresh token is refused.
			if r := e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+ada.refresh+`"}`); r.status != http.StatusUnauthorized {
				t.Errorf("refresh of a signed-out session: %d %s", r.status, r.raw)
			}
		}
		if r := e.do("GET", "/api/v1/auth/me", other.access, ""); r.status != http.StatusOK {
			t.Errorf("the session that signed the others out: %d", r.status)
		}
		e.clock.Advance(e.tokenTTL() + time.Minute)
		if r := e.do("GET", "/api/v1/auth/me", other.access, ""); r.status != http.StatusUnauthorized || r.object(t)["code"] != "token_expired" {
			t.Errorf("expired token: %d %s", r.status, r.raw)
		}
	})
}

func TestSessionsListAndRevoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		e := newTestEnv(t, newStore)
		ada := e.signUp("ada@example.com")
		second := e.signIn(ada.email, ada.password)
		bob := e.signUp("bob@example.com")

		var list []struct {
			ID      string `json:"id"`
			Device  string `json:"device"`
			Current bool   `json:"current"`
		}
		r := e.do("GET", "/api/v1/auth/sessions", second.access, "")
		if err := json.Unmarshal(r.raw, &list); err != nil || len(list) != 2 {
			t.Fatalf("sessions: %v %s", err, r.raw)
		}
		var current, other string
		for _, s := range list {
			if s.Device != "EchoGen app" {
				t.Errorf("device %q, want EchoGen app", s.Device)
			}
			if s.Current {
				current = s.ID
			} else {
				other = s.ID
			}
		}
		if current == "" || other == "" {
			t.Fatalf("want one current and one other session: %s", r.raw)
		}
		if strings.Contains(string(r.raw), second.refresh) || strings.Contains(string(r.raw), ada.refresh) {
			t.Fatal("sessions list leaks a refresh token")
		}
		// Bob cannot end Ada's session.
		if r := e.do("DELETE", "/api/v1/auth/sessions/"+other, bob.access, ""); r.status != http.StatusNotFound {
			t.Errorf("revoking another user's session: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/auth/me", ada.access, ""); r.status != http.StatusOK {
			t.Fatalf("ada's first session should still work: %d", r.status)
		}
		if r := e.do("DELETE", "/api/v1/auth/sessions/"+other, second.access, ""); r.status != http.StatusNoContent {
			t.Fatalf("revoke own session: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/auth/me", ada.access, ""); r.status != http.StatusUnauthorized {
			t.Errorf("revoked session still works: %d", r.status)
		}
		if r := e.do("POST", "/api/v1/auth/signout?scope=global", second.access, ""); r.status != http.StatusNoContent {
			t.Fatalf("global sign-out: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/auth/me", second.access, ""); r.status != http.StatusUnauthorized {
			t.Errorf("session after global sign-out: %d", r.status)
		}
	})
}

var mailToken = regexp.MustCompile(`[A-Za-z0-9_-]{43}`)

func TestPasswordResetAndEmailVerification(t *testing.T) {
	forEachStoreAndAuth(t, func(t *testing.T, newEnv func(...func(*envOptions)) *testEnv) {
		e := newEnv()
		ada := e.signUp("ada@example.com")
		other := e.signIn(ada.email, ada.password)

		if r := e.do("POST", "/api/v1/auth/password/forgot", "", `{"email":"ada@example.com"}`); r.status != http.StatusAccepted {
			t.Fatalf("forgot: %d", r.status)
		}
		token := e.lastToken("recovery", "ada@example.com")
		if token == "" {
			t.Fatal("no token in the reset mail")
		}
		e.secrets = append(e.secrets, token, "brand-new-password")
		if r := e.do("POST", "/api/v1/auth/password/reset", "", `{"token":"`+token+`","password":"short"}`); r.status != 422 {
			t.Errorf("reset with a short password: %d", r.status)
		}
		if r := e.do("POST", "/api/v1/auth/password/reset", "", `{"token":"`+token+`","password":"brand-new-password"}`); r.status != http.StatusOK {
			t.Fatalf("reset: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/auth/password/reset", "", `{"token":"`+token+`","password":"another-password"}`); r.status != http.StatusBadRequest {
			t.Errorf("reset token used twice: %d", r.status)
		}
		for _, s := range []session{ada, other} {
			if e.gotrue != nil {
				// Access tokens are checked locally and live until they
				// expire (M21); Supabase Auth ended the sessions.
				if r := e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+s.refresh+`"}`); r.status != http.StatusUnauthorized {
					t.Errorf("session survived a password reset: %d", r.status)
				}
				continue
			}
			if r := e.do("GET", "/api/v1/auth/me", s.access, ""); r.status != http.StatusUnauthorized {
				t.Errorf("session survived a password reset: %d", r.status)
			}
		}
		if r := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"`+ada.password+`"}`); r.status != http.StatusUnauthorized {
			t.Errorf("old password still works: %d", r.status)
		}
		e.signIn("ada@example.com", "brand-new-password")

		// An expired reset token is refused.
		e.do("POST", "/api/v1/auth/password/forgot", "", `{"email":"ada@example.com"}`)
		late := e.lastToken("recovery", "ada@example.com")
		e.secrets = append(e.secrets, late)
		e.clock.Advance(e.linkTTL() + time.Minute)
		if r := e.do("POST", "/api/v1/auth/password/reset", "", `{"token":"`+late+`","password":"brand-new-password-2"}`); r.status != http.StatusBadRequest {
			t.Errorf("expired reset token: %d", r.status)
		}
		e.checkLogs()
	})
}

func TestEmailConfirmationRequired(t *testing.T) {
	forEachAuth(t, func(t *testing.T, mode func(*envOptions)) {
		testEmailConfirmationRequired(t, newTestEnv(t, storeSQLite, mode, func(o *envOptions) { o.emailConfirmationRequired = true }))
	})
}

func testEmailConfirmationRequired(t *testing.T, e *testEnv) {
	e.secrets = append(e.secrets, "longenough")
	r := e.do("POST", "/api/v1/auth/signup", "", `{"method":"email","email":"ada@example.com","password":"longenough","fullName":"Ada"}`)
	if r.status != http.StatusForbidden || r.object(t)["code"] != "email_confirmation_required" {
		t.Fatalf("sign-up needing confirmation: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"ada@example.com","password":"longenough"}`)
	if r.status != http.StatusUnauthorized || r.object(t)["code"] != "email_not_confirmed" {
		t.Fatalf("sign-in before confirming: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/api/v1/auth/email/resend", "", `{"email":"ada@example.com"}`); r.status != http.StatusAccepted {
		t.Fatalf("resend: %d", r.status)
	}
	token := e.lastToken("signup", "ada@example.com")
	e.secrets = append(e.secrets, token)
	if r := e.do("POST", "/api/v1/auth/email/verify", "", fmt.Sprintf(`{"token":%q}`, token)); r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	ada := e.signIn("ada@example.com", "longenough")
	if me := e.do("GET", "/api/v1/auth/me", ada.access, "").object(t); me["fullName"] != "Ada" {
		t.Errorf("the name given at sign-up was lost: %v", me["fullName"])
	}
}

func splitJWT(t *testing.T, tok string) (string, string, string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	return parts[0], parts[1], parts[2]
}
