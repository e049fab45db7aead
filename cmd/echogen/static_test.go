package main

import (
	"debug/elf"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The Dockerfile builds a static binary and copies it onto debian:slim with
// the programs the server starts. Nothing can build the image here, so
// TestStaticBuild checks both assumptions instead.

// shellouts lists every file compiled into the echogen binary that starts
// another program, with the programs it starts. A file that starts one but
// is missing here fails the test, so a new dependency cannot slip past the
// Dockerfile.
var shellouts = map[string][]string{
	"internal/audio/engine.go":           {"ffmpeg", "lame"}, // finds the encoders on PATH
	"internal/audio/encode.go":           {"ffmpeg", "lame"}, // runs them
	"internal/provider/espeak/espeak.go": {"espeak-ng"},      // the offline "local" voice
	"internal/ingest/ingest.go":          {"pdftotext"},      // finds it on PATH
	"internal/ingest/pdf.go":             {"pdftotext"},      // runs it
}

// debianPackage is the Debian package that installs each program.
var debianPackage = map[string]string{
	"ffmpeg":    "ffmpeg",
	"lame":      "lame",
	"espeak-ng": "espeak-ng",
	"pdftotext": "poppler-utils",
}

// alwaysNeeded are runtime packages no shell-out names: Go reads the
// system's CA roots for HTTPS to the providers, S3 and Supabase.
var alwaysNeeded = []string{"ca-certificates"}

// startsProgram are the calls that start another program.
var startsProgram = []string{"exec.Command", "exec.LookPath", "os.StartProcess", "syscall.Exec", "syscall.ForkExec"}

func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	buildStage, runtimeStage := dockerStages(t, string(dockerfile))
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")

	t.Run("binary is static", func(t *testing.T) {
		// The Dockerfile's own build command, with the same flags.
		build := runLine(buildStage, "go build")
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/echogen"} {
			if !strings.Contains(build, want) {
				t.Errorf("the Dockerfile's build stage should run go build with %s; it runs: %s", want, build)
			}
		}
		bin := filepath.Join(t.TempDir(), "echogen")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/echogen")
		cmd.Dir, cmd.Env = root, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("the binary has a PT_INTERP program header: it needs a dynamic loader")
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			t.Fatalf("read DT_NEEDED: %v", err)
		}
		if len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v; the runtime image may not have them", libs)
		}
		if runtime.GOOS == "linux" {
			out, err := exec.Command(bin, "help").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "usage: echogen") {
				t.Errorf("echogen help: %v\n%s", err, out)
			}
		}
	})

	t.Run("runtime image has every program the server starts", func(t *testing.T) {
		installed := aptPackages(runLine(runtimeStage, "apt-get install"))
		if len(installed) == 0 {
			t.Fatalf("no apt-get install in the Dockerfile's runtime stage")
		}
		programs, pending := map[string]bool{}, maps.Clone(shellouts)
		for _, file := range filesThatStartPrograms(t, root, env) {
			want, ok := shellouts[file]
			if !ok {
				t.Errorf("%s starts a program: add it to shellouts in static_test.go with the programs it runs, and their packages to the Dockerfile", file)
				continue
			}
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range want {
				if !strings.Contains(string(src), p) {
					t.Errorf("%s no longer mentions %s: update shellouts", file, p)
				}
				programs[p] = true
			}
			delete(pending, file) // what is left is stale
		}
		for file := range pending {
			t.Errorf("%s is in shellouts but starts no program in the binary: remove it", file)
		}
		var needed []string
		for p := range programs {
			pkg, ok := debianPackage[p]
			if !ok {
				t.Errorf("no Debian package known for %s: add it to debianPackage", p)
				continue
			}
			needed = append(needed, pkg)
		}
		needed = append(needed, alwaysNeeded...)
		sort.Strings(needed)
		for _, pkg := range slices.Compact(needed) {
			if !installed[pkg] {
				t.Errorf("the Dockerfile's runtime stage does not install %s (installs %v)", pkg, keys(installed))
			}
		}
	})
}

// dockerStages returns the instructions of the Dockerfile's first and last
// stages, continuation lines joined and comments dropped.
func dockerStages(t *testing.T, dockerfile string) (first, last []string) {
	t.Helper()
	var stages [][]string
	var cur strings.Builder
	flush := func() {
		ins := strings.TrimSpace(cur.String())
		cur.Reset()
		if ins == "" {
			return
		}
		if strings.HasPrefix(strings.ToUpper(ins), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], ins)
		}
	}
	for line := range strings.Lines(dockerfile) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	return stages[0], stages[len(stages)-1]
}

// runLine returns the first RUN instruction of a stage that contains what.
func runLine(stage []string, what string) string {
	for _, ins := range stage {
		if strings.HasPrefix(strings.ToUpper(ins), "RUN ") && strings.Contains(ins, what) {
			return ins
		}
	}
	return ""
}

// aptPackages returns the packages that the apt-get install commands of a
// RUN instruction name.
func aptPackages(run string) map[string]bool {
	pkgs := map[string]bool{}
	words := strings.Fields(run)
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "apt-get" || words[i+1] != "install" {
			continue
		}
		for _, w := range words[i+2:] {
			if w == "&&" || w == "||" || w == ";" || w == "|" {
				break
			}
			if !strings.HasPrefix(w, "-") {
				pkgs[strings.TrimSuffix(w, ";")] = true
			}
		}
	}
	return pkgs
}

// filesThatStartPrograms lists, relative to root with slashes, the
// non-test Go files of this module that go into the linux echogen binary
// and call something that starts a program.
func filesThatStartPrograms(t *testing.T, root string, env []string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{"\n"}}{{end}}{{end}}`, "./cmd/echogen")
	cmd.Dir, cmd.Env = root, env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var files []string
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimSpace(line), "|")
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			path := filepath.Join(fields[0], name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(startsProgram, func(call string) bool { return strings.Contains(string(src), call) }) {
				continue
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, filepath.ToSlash(rel))
		}
	}
	if len(files) == 0 {
		t.Fatalf("go list found no file that starts a program; is the template right?\n%s", out)
	}
	return files
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
