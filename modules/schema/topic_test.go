package schema

import "testing"

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"sensor/temp", "sensor/temp", true},
		{"sensor/temp", "sensor/temp/x", false},
		{"sensor/+", "sensor/temp", true},
		{"sensor/+", "sensor", false},
		{"sensor/+", "sensor/", true}, // an empty level is a level
		{"sensor/+", "sensor/a/b", false},
		{"sensor/#", "sensor", true}, // '#' also matches the parent
		{"sensor/#", "sensor/a/b", true},
		{"#", "a/b/c", true},
		{"+/+", "a/b", true},
		{"+/b", "a/c", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a//c", true},
	} {
		if got := matches(c.filter, c.topic); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestCheckResource(t *testing.T) {
	for _, ok := range []string{"a", "a/b", "+", "#", "a/+/b", "a/#", "/", "$SYS/#"} {
		if err := checkResource(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"a+", "a/b+/c", "#/a", "a/#/b", "a#", "\xff", "a\x00b"} {
		if err := checkResource(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := checkTopic("a/+"); err == nil {
		t.Error("checkTopic accepted a filter")
	}
}
