package ingest

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/language"

	"github.com/echogen/server/internal/echogen"
)

// extractHTML finds the main article of a page with readability (dropping
// navigation, comments and ads) and renders it as Markdown.
func extractHTML(r io.Reader, src source) (*echogen.Document, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ingest: read %s: %w", src.name, err)
	}
	text := decodeHTML(raw, src.charset)
	root, err := html.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_document", "%s is not readable HTML: %v", src.name, err)
	}
	lang := pageLanguage(root)
	var pageURL *url.URL
	if src.url != "" {
		pageURL, _ = url.Parse(src.url)
	}

	p := readability.NewParser()
	article, err := p.ParseAndMutate(root, pageURL) // root is ours to mutate
	if err != nil {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_document", "%s is not readable HTML: %v", src.name, err)
	}
	content := article.Node
	if content == nil || !hasWords(innerText(content)) {
		// Readability found no article (a bare or tiny page): fall back to
		// the body without its obvious chrome.
		if root, err = html.Parse(bytes.NewReader(text)); err == nil {
			content = pageBody(root)
		}
	}
	var md string
	if content != nil {
		if md, err = toMarkdown(content); err != nil {
			return nil, fmt.Errorf("ingest: markdown of %s: %w", src.name, err)
		}
	}

	doc := &echogen.Document{
		Title:    cleanSpace(article.Title()),
		Markdown: md,
		SiteName: cleanSpace(article.SiteName()),
		Author:   cleanSpace(article.Byline()),
		Language: lang,
		Excerpt:  cleanSpace(article.Excerpt()),
	}
	if doc.Language == "" {
		doc.Language = normalizeLanguage(article.Language())
	}
	if t, err := article.PublishedTime(); err == nil && !t.IsZero() {
		t = t.UTC()
		doc.Published = &t
	}
	if doc.Title == "" {
		doc.Title = firstHeading(md)
	}
	return doc, nil
}

// toMarkdown renders an article node as Markdown without images and media,
// which a listener cannot hear.
func toMarkdown(n *html.Node) (string, error) {
	dropMedia(n)
	conv := converter.NewConverter(converter.WithPlugins(
		base.NewBasePlugin(),
		commonmark.NewCommonmarkPlugin(),
	))
	out, err := conv.ConvertNode(n)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// dropMedia removes images, media, embeds, form controls and navigation
// left inside an article (breadcrumbs, "related posts" lists).
func dropMedia(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode {
			switch c.DataAtom {
			case atom.Img, atom.Picture, atom.Svg, atom.Video, atom.Audio, atom.Iframe,
				atom.Object, atom.Embed, atom.Canvas, atom.Source, atom.Map,
				atom.Button, atom.Input, atom.Select, atom.Textarea, atom.Form,
				atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Nav:
				n.RemoveChild(c)
				c = next
				continue
			}
			if role := attr(c, "role"); role == "navigation" {
				n.RemoveChild(c)
				c = next
				continue
			}
		}
		dropMedia(c)
		c = next
	}
}

// pageBody returns the page's body without navigation, headers, footers,
// asides and scripts: the fallback when readability finds no article.
func pageBody(root *html.Node) *html.Node {
	body := findElement(root, atom.Body)
	if body == nil {
		return root
	}
	var strip func(n *html.Node)
	strip = func(n *html.Node) {
		for c := n.FirstChild; c != nil; {
			next := c.NextSibling
			if c.Type == html.ElementNode {
				switch c.DataAtom {
				case atom.Nav, atom.Header, atom.Footer, atom.Aside, atom.Script, atom.Style, atom.Noscript:
					n.RemoveChild(c)
					c = next
					continue
				}
			}
			strip(c)
			c = next
		}
	}
	strip(body)
	return body
}

// pageLanguage reads the page's language: <html lang>, then meta tags.
func pageLanguage(root *html.Node) string {
	if h := findElement(root, atom.Html); h != nil {
		for _, key := range []string{"lang", "xml:lang"} {
			if l := normalizeLanguage(attr(h, key)); l != "" {
				return l
			}
		}
	}
	head := findElement(root, atom.Head)
	if head == nil {
		return ""
	}
	var found string
	walk(head, func(n *html.Node) bool {
		if n.DataAtom != atom.Meta {
			return true
		}
		key := strings.ToLower(attr(n, "http-equiv") + attr(n, "name") + attr(n, "property"))
		switch key {
		case "content-language", "language", "dc.language", "og:locale":
			found = normalizeLanguage(attr(n, "content"))
		}
		return found == ""
	})
	return found
}

// normalizeLanguage turns "en_US", "EN-us" or "de, en" into a BCP 47 tag, or
// "" when it is not one.
func normalizeLanguage(s string) string {
	s, _, _ = strings.Cut(s, ",")
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "-")
	if s == "" {
		return ""
	}
	tag, err := language.Parse(s)
	if err != nil || tag == language.Und {
		return ""
	}
	return tag.String()
}

func findElement(n *html.Node, a atom.Atom) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) bool {
		if c.DataAtom == a {
			found = c
		}
		return found == nil
	})
	return found
}

// walk calls fn on the elements under n in document order until fn returns
// false.
func walk(n *html.Node, fn func(*html.Node) bool) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && !fn(c) {
			return false
		}
		if !walk(c, fn) {
			return false
		}
	}
	return true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) || (a.Namespace != "" && strings.EqualFold(a.Namespace+":"+a.Key, key)) {
			return a.Val
		}
	}
	return ""
}

// innerText is the text under n, without markup.
func innerText(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

// cleanSpace collapses runs of white space.
func cleanSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
