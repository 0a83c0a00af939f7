package printer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

type vpcView struct {
	Network string   `json:"network"`
	Tags    []string `json:"tags"`
}

type workload struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Mode      string   `json:"mode"`
	Connector string   `json:"connector"`
	VPC       vpcView  `json:"vpc"`
	Ready     bool     `json:"ready"`
	Max       int      `json:"max"`
	Notes     []string `json:"notes"`
}

func (w workload) Table() ([]string, [][]string) {
	return []string{"name", "mode", "status"}, [][]string{{w.Name, w.Mode, map[bool]string{true: "ready", false: "failed: no"}[w.Ready]}}
}

var workloads = []workload{
	{Name: "run-service", Kind: "service", Mode: "connector", Connector: "projects/p/locations/r/connectors/run-connector", Ready: true, Max: 10},
	{Name: "api", Kind: "service", Mode: "direct", VPC: vpcView{Network: "run-vpc", Tags: []string{"a", "b"}}, Ready: false, Max: 3, Notes: []string{"x, y"}},
	{Name: "nightly-export", Kind: "job", Mode: "none", Ready: true},
}

func TestValueAndCSVProjections(t *testing.T) {
	for _, tt := range []struct {
		format string
		v      any
		want   string
	}{
		{"value(name,mode)", workloads, "run-service\tconnector\napi\tdirect\nnightly-export\tnone\n"},
		// Nested keys, lists joined with ';', booleans and numbers as gcloud prints them.
		{"value(name,vpc.network,vpc.tags,ready,max)", workloads[:2], "run-service\t\t\tTrue\t10\napi\trun-vpc\ta;b\tFalse\t3\n"},
		{"value(connector.basename())", workloads[:1], "run-connector\n"},
		{"csv(name,mode)", workloads[:2], "name,mode\nrun-service,connector\napi,direct\n"},
		{"csv[no-heading](name,notes)", workloads[1:2], "api,\"x, y\"\n"},
		{"csv(name:label=NAME,vpc.network:label=NETWORK)", workloads[1:2], "NAME,NETWORK\napi,run-vpc\n"},
		{`csv[separator=";"](name,max)`, workloads[:1], "name;max\nrun-service;10\n"},
		// One object: one row; an object value as key=value pairs.
		{"value(name,vpc)", workloads[1], "api\tnetwork=run-vpc;tags=a;b\n"},
		{"value(missing.field,name)", workloads[2], "\tnightly-export\n"},
		{"csv(name)", []workload{}, "name\n"},
	} {
		if got := render(t, tt.format, tt.v); got != tt.want {
			t.Errorf("%s:\n%q\nwant\n%q", tt.format, got, tt.want)
		}
	}
}

func TestProjectionErrorsAreUsage(t *testing.T) {
	for _, f := range []string{"value()", "value(name", "csv[bogus](name)", "csv[no-heading", "value(a..b)", "value(name.upper())", "values(name)", "csv(name:width=3)"} {
		err := Validate(f)
		if exitcode.FromError(err) != exitcode.Usage || !strings.Contains(err.Error(), "--format") {
			t.Errorf("Validate(%q) = %v, want a usage error naming --format", f, err)
		}
	}
}

func TestFilter(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want string // names kept, comma-separated
	}{
		{"mode=direct", "api"},
		{"mode!=direct", "run-service,nightly-export"},
		{"kind=service AND mode=connector", "run-service"},
		{"kind=service mode=connector", "run-service"}, // juxtaposition is AND
		{"mode=direct OR kind=job", "api,nightly-export"},
		{"NOT kind=service", "nightly-export"},
		{"-kind:serv", "nightly-export"},
		{"name:EXPORT", "nightly-export"},   // has: substring, ignoring case
		{"vpc.tags:b", "api"},               // any element of a list
		{"connector:*", "run-service"},      // set
		{"name~^run-.*e$", "run-service"},   // regex
		{"name!~run", "api,nightly-export"}, // not matching
		{`name="nightly-export"`, "nightly-export"},
		{"name=run*", "run-service"}, // a trailing * is a prefix
		{"ready=true", "run-service,nightly-export"},
		{"(mode=none OR mode=direct) AND NOT ready=false", "nightly-export"},
		{"kind=service AND (mode=direct OR max=10)", "run-service,api"},
	} {
		f, err := ParseFilter(tt.expr)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.expr, err)
			continue
		}
		got, err := f.Apply(workloads)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, w := range got.([]workload) {
			names = append(names, w.Name)
		}
		if strings.Join(names, ",") != tt.want {
			t.Errorf("%s: kept %v, want %s", tt.expr, names, tt.want)
		}
	}
	for _, bad := range []string{"", "mode", "mode=", "(mode=x", "mode=x)", "name~(", `name="x`, "=x", "AND"} {
		if _, err := ParseFilter(bad); exitcode.FromError(err) != exitcode.Usage {
			t.Errorf("ParseFilter(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestPrinterFilterKeepsTheFormat(t *testing.T) {
	f, err := ParseFilter("mode=direct")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	p, _ := New(&buf, Table)
	p.SetFilter(f)
	if err := p.Print(workloads); err != nil {
		t.Fatal(err)
	}
	if want := "NAME   MODE     STATUS\napi    direct   failed: no\n"; buf.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", buf.String(), want)
	}
}

func TestColorOnlyWhenWanted(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if !ColorWanted(true, env()) || ColorWanted(false, env()) || ColorWanted(true, env("NO_COLOR", "1")) || ColorWanted(true, env("TERM", "dumb")) {
		t.Error("ColorWanted: colour only on a terminal, without NO_COLOR, not on a dumb terminal")
	}

	var plain, colored bytes.Buffer
	for _, c := range []struct {
		buf *bytes.Buffer
		on  bool
	}{{&plain, false}, {&colored, true}} {
		p, _ := New(c.buf, Table)
		p.SetColor(c.on)
		if err := p.Print(workloads[:2]); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("colour without a terminal: %q", plain.String())
	}
	want := "NAME          MODE        STATUS\n" +
		"run-service   connector   " + ansiGreen + "ready" + ansiReset + "\n" +
		"api           direct      " + ansiRed + "failed: no" + ansiReset + "\n"
	if colored.String() != want {
		t.Errorf("coloured table:\n%q\nwant\n%q", colored.String(), want)
	}
	// Check words in text renderings; other words stay as they are.
	got := colorText("  PASS  free-ips  ok\n  FAIL  subnet-size  PASSWORD\n")
	wantText := "  " + ansiGreen + "PASS" + ansiReset + "  free-ips  ok\n  " + ansiRed + "FAIL" + ansiReset + "  subnet-size  PASSWORD\n"
	if got != wantText {
		t.Errorf("colorText = %q, want %q", got, wantText)
	}
}

func TestFieldRows(t *testing.T) {
	type user struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	v := struct {
		Name  string   `json:"name"`
		VPC   vpcView  `json:"vpc"`
		Users []user   `json:"users"`
		None  []string `json:"none"`
		Empty string   `json:"empty"`
	}{"c", vpcView{Network: "n", Tags: []string{"a", "b"}}, []user{{"s", "service"}, {"j", "job"}}, []string{}, ""}
	h, rows, err := FieldRows(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeTable(&buf, h, rows, false); err != nil {
		t.Fatal(err)
	}
	want := "FIELD         VALUE\n" +
		"name          c\n" +
		"vpc.network   n\n" +
		"vpc.tags      a, b\n" +
		"users         name=s kind=service\n" +
		"users         name=j kind=job\n" +
		"none          -\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
