package echogen_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func TestCleanSegments(t *testing.T) {
	two := echogen.ScriptSpec{Speakers: []echogen.Speaker{{Name: "Alex"}, {Name: "Sam"}}, Tone: true}
	noTone := two
	noTone.Tone = false
	seg := func(speaker, content, tone string) echogen.Segment {
		return echogen.Segment{Speaker: speaker, Content: content, Tone: tone}
	}
	tests := []struct {
		name    string
		spec    echogen.ScriptSpec
		in      []echogen.Segment
		want    []echogen.Segment
		repairs int
		wantErr bool
	}{
		{"clean lines pass untouched", two, []echogen.Segment{seg("Alex", "Hello there.", "warmly"), seg("Sam", "Hi!", "")},
			[]echogen.Segment{seg("Alex", "Hello there.", "warmly"), seg("Sam", "Hi!", "")}, 0, false},
		{"names match ignoring case", two, []echogen.Segment{seg("alex", "Hi.", "")}, []echogen.Segment{seg("Alex", "Hi.", "")}, 0, false},
		{"Speaker 2 is the second speaker", two, []echogen.Segment{seg("Speaker 2", "Hi.", "")}, []echogen.Segment{seg("Sam", "Hi.", "")}, 1, false},
		{"a name prefix is dropped", two, []echogen.Segment{seg("Sam", "Sam: Right.", ""), seg("Alex", "**Alex:** Yes.", "")},
			[]echogen.Segment{seg("Sam", "Right.", ""), seg("Alex", "Yes.", "")}, 2, false},
		{"the app's leading tone becomes the tone", two, []echogen.Segment{seg("Alex", "(excitedly) Big news today!", "")},
			[]echogen.Segment{seg("Alex", "Big news today!", "excitedly")}, 1, false},
		{"bracketed directions leave the text", two, []echogen.Segment{seg("Sam", "That's wild [laughs] really.", "")},
			[]echogen.Segment{seg("Sam", "That's wild really.", "laughs")}, 1, false},
		{"starred actions leave, emphasis stays", two, []echogen.Segment{seg("Sam", "*sighs* It is *really* late.", "")},
			[]echogen.Segment{seg("Sam", "It is really late.", "sighs")}, 1, false},
		{"ordinary parentheses are speech", two, []echogen.Segment{seg("Alex", "The map (drawn in 1820) survives.", "")},
			[]echogen.Segment{seg("Alex", "The map (drawn in 1820) survives.", "")}, 0, false},
		{"a parenthetical action goes", two, []echogen.Segment{seg("Alex", "Well (chuckles) maybe.", "")},
			[]echogen.Segment{seg("Alex", "Well maybe.", "chuckles")}, 1, false},
		{"the tone field wins over markup", two, []echogen.Segment{seg("Alex", "[laughs] Sure.", "[amused]")},
			[]echogen.Segment{seg("Alex", "Sure.", "amused")}, 1, false},
		{"tone off drops every tone", noTone, []echogen.Segment{seg("Alex", "(warmly) Hi.", "soft")}, []echogen.Segment{seg("Alex", "Hi.", "")}, 1, false},
		{"a line of directions only is dropped", two, []echogen.Segment{seg("Alex", "[music]", ""), seg("Sam", "Welcome.", "")},
			[]echogen.Segment{seg("Sam", "Welcome.", "")}, 2, false},
		{"newlines become spaces", two, []echogen.Segment{seg("Alex", "One.\n\nTwo.", "")}, []echogen.Segment{seg("Alex", "One. Two.", "")}, 0, false},
		{"an undeclared speaker is refused", two, []echogen.Segment{seg("Narrator", "Once.", "")}, nil, 0, true},
		{"Speaker 3 of two is refused", two, []echogen.Segment{seg("Speaker 3", "Once.", "")}, nil, 0, true},
		{"no lines is refused", two, nil, nil, 0, true},
		{"only directions is refused", two, []echogen.Segment{seg("Alex", "[pause]", "")}, nil, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, repairs, err := echogen.CleanSegments(tc.spec, tc.in)
			if tc.wantErr {
				if echogen.ErrorKind(err) != echogen.KindUnavailable || got != nil {
					t.Fatalf("got %v, %v; want an invalid_script error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
			if repairs != tc.repairs {
				t.Errorf("repairs = %d, want %d", repairs, tc.repairs)
			}
		})
	}
}

func TestEstimateCost(t *testing.T) {
	tests := []struct {
		provider  echogen.Provider
		model     string
		in, out   int
		want      float64
		wantKnown bool
	}{
		{echogen.ProviderOpenAI, "gpt-4o-mini", 1_000_000, 1_000_000, 0.75, true},
		{echogen.ProviderOpenAI, "gpt-4o-mini-2024-07-18", 2_000_000, 0, 0.30, true}, // longest prefix, not gpt-4o
		{echogen.ProviderOpenAI, "gpt-4o", 1000, 1000, 0.0125, true},
		{echogen.ProviderGemini, "models/gemini-2.5-flash", 1_000_000, 0, 0.30, true},
		{echogen.ProviderGemini, "gemini-2.5-flash-lite", 1_000_000, 1_000_000, 0.50, true},
		{echogen.ProviderAnthropic, "claude-sonnet-4-5-20250929", 1_000_000, 1_000_000, 18, true},
		{echogen.ProviderOpenRouter, "anthropic/claude-sonnet-4.5", 1_000_000, 0, 3, true},
		{echogen.ProviderOpenRouter, "openai/gpt-4.1-mini", 0, 1_000_000, 1.60, true},
		{echogen.ProviderOpenRouter, "mistralai/mixtral", 1000, 1000, 0, false},
		{echogen.ProviderGroq, "llama-3.3-70b-versatile", 1_000_000, 1_000_000, 1.38, true},
		{echogen.ProviderOllama, "llama3.2", 5000, 5000, 0, true},
		{echogen.ProviderLocal, "extractive", 0, 0, 0, true},
		{echogen.ProviderOpenAI, "some-future-model", 1000, 1000, 0, false},
	}
	for _, tc := range tests {
		got, known := echogen.EstimateCost(tc.provider, tc.model, tc.in, tc.out)
		if math.Abs(got-tc.want) > 1e-9 || known != tc.wantKnown {
			t.Errorf("EstimateCost(%s, %s, %d, %d) = %v, %v; want %v, %v", tc.provider, tc.model, tc.in, tc.out, got, known, tc.want, tc.wantKnown)
		}
	}
}
