package local

import "github.com/echogen/server/internal/echogen"

// phrases are one style's connecting lines. They carry no facts: every
// fact in a script comes from a source sentence. They are English only.
type phrases struct {
	openers     []string // each has one %s for the title
	transitions []string // said before a source sentence
	questions   []string // a line of its own, answered by the next speaker
	closings    []string
	tones       []string // contract §4.5
	tonePercent int      // share of lines that carry a tone
}

var styles = map[string]phrases{
	echogen.StylePlayful: {
		openers: []string{
			"Welcome back to the show. Today we're looking at %s.",
			"Hey everyone, welcome in! Today's topic: %s.",
		},
		transitions: []string{"Oh, that's a good point.", "Here's where it gets interesting:", "Okay, and get this:", "Right, and also:"},
		questions:   []string{"So what does that mean in practice?", "Wait, so what happens next?", "Okay, how does that work?"},
		closings:    []string{"That's all for today — thanks for listening."},
		tones:       []string{"cheerfully", "excitedly", "laughing", "whispering"},
		tonePercent: 35,
	},
	echogen.StyleSerious: {
		openers: []string{
			"Welcome. In this episode we examine %s.",
			"Welcome back. Today's subject is %s.",
		},
		transitions: []string{"That's an important point.", "To put that in context:", "It's worth noting this.", "Consider this as well:"},
		questions:   []string{"What are the implications of that?", "How should we read that?", "What does the source say next?"},
		closings:    []string{"That concludes today's discussion. Thank you for listening."},
		tones:       []string{"authoritatively", "informatively"},
		tonePercent: 25,
	},
	echogen.StyleInvestigative: {
		openers: []string{
			"Welcome back. Today we're digging into %s.",
			"Today's case: %s. Let's look at what we know.",
		},
		transitions: []string{"Here's where it gets interesting:", "Now look at this detail:", "And there's more:", "That's a clue worth noting."},
		questions:   []string{"So what does that tell us?", "And what did they find next?", "What's the missing piece here?"},
		closings:    []string{"That's where the trail ends for today — thanks for listening."},
		tones:       []string{"mysteriously", "urgently"},
		tonePercent: 35,
	},
	echogen.StyleCoffeeChat: {
		openers: []string{
			"Welcome back to the show. Grab a coffee — today we're talking about %s.",
			"Hi there, welcome in. Today we're chatting about %s.",
		},
		transitions: []string{"That's a good point.", "You know what I liked?", "Honestly, this part stuck with me.", "Mm, and also:"},
		questions:   []string{"So what does that mean in practice?", "How do you feel about that part?", "And then what?"},
		closings:    []string{"That's all for today — thanks for listening."},
		tones:       []string{"warmly", "softly"},
		tonePercent: 35,
	},
	echogen.StyleTechTalk: {
		openers: []string{
			"Welcome back to the show. Today we're looking at %s.",
			"Welcome in. On the agenda today: %s.",
		},
		transitions: []string{"Here's the technical bit:", "That's a good point.", "Let's look under the hood.", "Here's where it gets interesting:"},
		questions:   []string{"So what does that mean in practice?", "How does that work, exactly?", "Why does that matter?"},
		closings:    []string{"That's all for today — thanks for listening."},
		tones:       []string{"enthusiastically", "clearly"},
		tonePercent: 30,
	},
	echogen.StyleStorytelling: {
		openers: []string{
			"Welcome back. Today's story is %s.",
			"Settle in. This is the story of %s.",
		},
		transitions: []string{"Then this happened.", "Here's where it gets interesting:", "Let's keep going.", "Picture this:"},
		questions:   []string{"And what happened next?", "So how did it turn out?", "What came after that?"},
		closings:    []string{"And that's where our story ends for today — thanks for listening."},
		tones:       []string{"dramatically", "whispering"},
		tonePercent: 45,
	},
}

// styleFor returns the phrases of a style; unknown styles get playful, the
// app's default.
func styleFor(style string) phrases {
	if p, ok := styles[style]; ok {
		return p
	}
	return styles[echogen.StylePlayful]
}
