package plugintest_test

import (
	"testing"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

func TestBuildLoadValidate(t *testing.T) {
	p := plugintest.Load(t, plugintest.Build(t, "testdata/equals"), plugin.Manifest{})
	if d := p.Describe(); d.Name != "equals" || d.Kind != plugin.KindValidator || d.ABIVersion != 1 {
		t.Fatalf("describe = %+v", d)
	}
	res := p.Validate("abc", "abc", "abd")
	if !res[0].OK() || res[1].Outcome != plugin.Invalid || res[1].Message != `"abd" is not "abc"` {
		t.Fatalf("results = %+v", res)
	}
	if len(p.Validate("abc")) != 0 {
		t.Fatal("empty batch")
	}
}

func TestRecords(t *testing.T) {
	rs := plugintest.Records("a", "b")
	if len(rs) != 2 || rs[1].Offset != 1 || string(rs[1].Value) != "b" {
		t.Fatalf("records = %+v", rs)
	}
}
