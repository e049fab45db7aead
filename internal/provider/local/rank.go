package local

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// sentence is one usable sentence of the source.
type sentence struct {
	text    string
	index   int // position among usable sentences, in document order
	section int // heading it sits under, -1 before any
	words   int
	score   float64
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all also although am an and any are
		aren't as at be because been before being below between both but by can can't cannot could couldn't did
		didn't do does doesn't doing don't down during each either even ever every few for from further get gets
		got had hadn't has hasn't have haven't having he her here hers herself him himself his how however i if in
		into is isn't it it's its itself just let's like made make makes many may me might more most much must my
		myself neither no nor not now of off often on once one only or other others our ours ourselves out over own
		per rather really said same say says she should shouldn't since so some still such than that that's the
		their theirs them themselves then there there's these they they're this those though through thus to too
		under until up upon us use used uses using very via was wasn't we we're were weren't what what's when where
		whether which while who whom whose why will with within without won't would wouldn't yet you you're your
		yours yourself yourselves new two three first last well way ways also back since`) {
		m[w] = true
	}
	return m
}()

// terms returns the content words of s: lower case, stop words and words
// shorter than three letters removed, a plural "s" trimmed.
func terms(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}) {
		f = strings.Trim(f, "'")
		if len([]rune(f)) < 3 || stopWords[f] {
			continue
		}
		if len(f) > 4 && strings.HasSuffix(f, "s") && !strings.HasSuffix(f, "ss") {
			f = f[:len(f)-1]
		}
		out = append(out, f)
	}
	return out
}

// rank scores every sentence: the sum of its distinct content words'
// weights over the square root of their number, where a word's weight is
// log(1+count in the document) × log(1+sentences/sentences holding it),
// doubled for words of the title or a heading; early sentences get up to
// 50% more.
func rank(sents []sentence, title string, headings []string) {
	n := len(sents)
	if n == 0 {
		return
	}
	tf := map[string]int{}
	df := map[string]int{}
	perSentence := make([][]string, n)
	for i, s := range sents {
		ts := terms(s.text)
		seen := map[string]bool{}
		var distinct []string
		for _, t := range ts {
			tf[t]++
			if !seen[t] {
				seen[t] = true
				df[t]++
				distinct = append(distinct, t)
			}
		}
		perSentence[i] = distinct
	}
	headingTerms := map[string]bool{}
	for _, h := range append([]string{title}, headings...) {
		for _, t := range terms(h) {
			headingTerms[t] = true
		}
	}
	for i := range sents {
		ts := perSentence[i]
		if len(ts) == 0 {
			continue
		}
		sum := 0.0
		for _, t := range ts {
			w := math.Log(1+float64(tf[t])) * math.Log(1+float64(n)/float64(df[t]))
			if headingTerms[t] {
				w *= 2
			}
			sum += w
		}
		score := sum / math.Sqrt(float64(len(ts)))
		score *= 1 + 0.5*(1-float64(i)/float64(n))
		if i == 0 {
			score *= 1.25 // the lede usually says what the piece is about
		}
		sents[i].score = score
	}
}

// pick chooses the best sentences, by score, until their words reach goal
// (skipping any that would overshoot it by more than 5%), and returns them
// in document order.
func pick(sents []sentence, goal int) []sentence {
	order := make([]int, len(sents))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		sa, sb := sents[order[a]], sents[order[b]]
		if sa.score != sb.score {
			return sa.score > sb.score
		}
		return sa.index < sb.index
	})
	var chosen []int
	sum := 0
	limit := goal + goal/20
	for _, i := range order {
		if sum >= goal-goal/20 {
			break
		}
		if sum > 0 && sum+sents[i].words > limit {
			continue
		}
		chosen = append(chosen, i)
		sum += sents[i].words
	}
	sort.Ints(chosen)
	out := make([]sentence, len(chosen))
	for k, i := range chosen {
		out[k] = sents[i]
	}
	return out
}
