package pipeline

import (
	"fmt"
	"strings"

	"github.com/echogen/server/internal/echogen"
)

// Schema names: the provider sees them as the response format's or the
// tool's name, and they name the step in usage events.
const (
	schemaNotes    = "source_notes"
	schemaOutline  = "script_outline"
	schemaSegments = "script_segments"
)

func notesSchema() map[string]any {
	return object(schemaNotes, map[string]any{
		"notes": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	})
}

func outlineSchema() map[string]any {
	section := object("", map[string]any{
		"heading": map[string]any{"type": "string"},
		"points":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	})
	return object(schemaOutline, map[string]any{
		"title":    map[string]any{"type": "string"},
		"sections": map[string]any{"type": "array", "items": section},
	})
}

func segmentsSchema(speakers []echogen.Speaker) map[string]any {
	names := make([]any, len(speakers))
	for i, s := range speakers {
		names[i] = s.Name
	}
	turn := object("", map[string]any{
		"speaker": map[string]any{"type": "string", "enum": names},
		"text":    map[string]any{"type": "string"},
		"tone":    map[string]any{"type": "string"},
	})
	return object(schemaSegments, map[string]any{
		"segments": map[string]any{"type": "array", "items": turn},
	})
}

// object is a JSON schema object in the strict form OpenAI asks for:
// every property required, nothing else allowed.
func object(title string, props map[string]any) map[string]any {
	required := make([]any, 0, len(props))
	for _, k := range sortedKeys(props) {
		required = append(required, k)
	}
	o := map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	if title != "" {
		o["title"] = title
	}
	return o
}

// systemPrompt tells the model who speaks, how, and in which language.
func systemPrompt(spec echogen.ScriptSpec) string {
	style := echogen.DescribeStyle(spec.Style)
	var b strings.Builder
	fmt.Fprintf(&b, "You write podcast scripts to be read aloud by text-to-speech voices. Show style: %s, %s.\n\n", style.Name, style.Description)
	if len(spec.Speakers) == 1 {
		b.WriteString("The episode is a monologue by one host:\n")
	} else {
		fmt.Fprintf(&b, "The episode is a conversation between %d speakers:\n", len(spec.Speakers))
	}
	for _, s := range spec.Speakers {
		if s.Persona != "" {
			fmt.Fprintf(&b, "- %s: %s\n", s.Name, s.Persona)
		} else {
			fmt.Fprintf(&b, "- %s\n", s.Name)
		}
	}
	b.WriteString("\nRules:\n")
	b.WriteString("1. Only the speakers above speak, named exactly as written. Share the talking among them.\n")
	b.WriteString("2. Each line's text is only the words spoken: no stage directions, sound effects, music cues, narrator, brackets, asterisks, markdown or speaker names.\n")
	if spec.Tone {
		fmt.Fprintf(&b, "3. Put how a line is said in its tone field, in one or two words (for example %s), and leave it empty when nothing special; never put it in the text.\n", strings.Join(style.Tones, ", "))
	} else {
		b.WriteString("3. Leave every tone field empty.\n")
	}
	fmt.Fprintf(&b, "4. Write every spoken line in %s, whatever the language of the source.\n", languageName(spec.Language))
	b.WriteString("5. Stay faithful to the source: no invented facts, numbers or quotes.\n")
	b.WriteString("6. Answer with one JSON object that follows the given schema, and nothing else.\n")
	if spec.CustomPrompt != "" {
		fmt.Fprintf(&b, "\nThe producer's instructions (they do not override rules 1 to 6):\n%s\n", spec.CustomPrompt)
	}
	return b.String()
}

// languageName names a BCP 47 tag for a model: "French (fr)".
func languageName(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	names := map[string]string{
		"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
		"nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "nb": "Norwegian Bokmål",
		"fi": "Finnish", "cs": "Czech", "el": "Greek", "tr": "Turkish", "ru": "Russian", "uk": "Ukrainian",
		"ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "bn": "Bengali", "ja": "Japanese", "ko": "Korean",
		"zh": "Chinese", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian", "ms": "Malay", "ro": "Romanian", "hu": "Hungarian",
	}
	if n, ok := names[base]; ok {
		return fmt.Sprintf("%s (language tag %s)", n, tag)
	}
	return "the language with tag " + tag
}

func sourceBlock(src echogen.ScriptSource, material string) string {
	if material == "" {
		return "Topic: " + src.Topic + "\nThere is no source text: draw on what is well established about the topic, and say so when something is uncertain."
	}
	title := src.Title
	if title == "" {
		title = "(untitled)"
	}
	return "Source title: " + title + "\n\n<source>\n" + material + "\n</source>"
}

func outlinePrompt(src echogen.ScriptSource, spec echogen.ScriptSpec, material string, sections int) string {
	return fmt.Sprintf("Plan a podcast episode of about %d spoken words (%d minutes). Give it a short, catchy title and exactly %d sections in the order they will be discussed: the first opens the show and introduces the speakers, the last wraps it up. Each section has a heading and the points from the source it covers; together they cover the source's main ideas without repeating one another.\n\n%s",
		spec.TargetWords(), spec.TargetMinutes, sections, sourceBlock(src, material))
}

type outline struct {
	Title    string    `json:"title"`
	Sections []section `json:"sections"`
}

type section struct {
	Heading string   `json:"heading"`
	Points  []string `json:"points"`
}

func (o *outline) String() string {
	var b strings.Builder
	for i, s := range o.Sections {
		fmt.Fprintf(&b, "%d. %s: %s\n", i+1, s.Heading, strings.Join(s.Points, "; "))
	}
	return b.String()
}

func sectionPrompt(src echogen.ScriptSource, material string, o *outline, i, words int, previous []echogen.Segment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Episode title: %s\nOutline:\n%s\n", o.Title, o)
	s := o.Sections[i]
	fmt.Fprintf(&b, "Write section %d of %d, %q, covering: %s.\nLength: about %d spoken words in all.\n", i+1, len(o.Sections), s.Heading, strings.Join(s.Points, "; "), words)
	switch {
	case len(o.Sections) == 1:
		b.WriteString("This is the whole episode: open the show by introducing the speakers and the topic, and end by wrapping up and saying goodbye.\n")
	case i == 0:
		b.WriteString("Open the show: greet the listeners, introduce the speakers and the topic. Do not say goodbye yet.\n")
	case i == len(o.Sections)-1:
		b.WriteString("This closes the episode: sum up the key points and say goodbye.\n")
	default:
		b.WriteString("Continue the conversation; do not greet or say goodbye.\n")
	}
	writePrevious(&b, previous)
	b.WriteString("\n" + sourceBlock(src, material))
	return b.String()
}

func extendPrompt(src echogen.ScriptSource, material string, o *outline, have, want int, before []echogen.Segment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Episode title: %s\nOutline:\n%s\n", o.Title, o)
	fmt.Fprintf(&b, "The script is %d spoken words long but the episode needs about %d. Write about %d more words of dialogue that go just before the closing: new points from the source that have not been discussed, or a deeper look at the ones that have, without repeating lines already said. Do not greet or say goodbye.\n", have, want, want-have)
	writePrevious(&b, before)
	b.WriteString("\n" + sourceBlock(src, material))
	return b.String()
}

func condensePrompt(o *outline, i, words int, segs []echogen.Segment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Episode title: %s\nThis is section %d of %d, %q. It is %d spoken words long; condense it to about %d words. Keep the same speakers, the key facts and the flow, drop repetition and filler.\n\n",
		o.Title, i+1, len(o.Sections), o.Sections[i].Heading, echogen.SpokenWords(segs), words)
	for _, s := range segs {
		fmt.Fprintf(&b, "%s: %s\n", s.Speaker, s.Content)
	}
	return b.String()
}

func notesPrompt(title string, part, parts, words int, chunk string) string {
	return fmt.Sprintf("This is part %d of %d of a long source titled %q. Take notes for a podcast about it: the facts, names, numbers, arguments and quotes worth discussing, in the order they appear, each a short self-contained line, about %d words in all. Write the notes in the source's language.\n\n<source>\n%s\n</source>",
		part, parts, title, words, chunk)
}

func writePrevious(b *strings.Builder, previous []echogen.Segment) {
	if len(previous) == 0 {
		return
	}
	b.WriteString("The lines just before:\n")
	for _, s := range previous {
		fmt.Fprintf(b, "%s: %s\n", s.Speaker, s.Content)
	}
}
