package schema

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkResource checks a binding's resource_name: an MQTT topic name or
// topic filter. '+' must fill a whole level and '#' must be the whole last
// level (MQTT 3.1.1 §4.7).
func checkResource(s string) error {
	if err := checkTopicChars(s); err != nil {
		return err
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("'+' must fill a whole level, found %q", l)
		}
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("'#' must be the whole last level, found %q", l)
		}
	}
	return nil
}

// checkTopic checks a topic name to validate against: no wildcards.
func checkTopic(s string) error {
	if err := checkTopicChars(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, "+#") {
		return fmt.Errorf("a topic name has no wildcards ('+', '#'); %q is a filter", s)
	}
	return nil
}

func checkTopicChars(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("contains a NUL character")
	}
	return nil
}

// isFilter reports whether a resource name holds wildcards.
func isFilter(s string) bool { return strings.ContainsAny(s, "+#") }

// matches reports whether topic name topic matches resource: equal to it,
// or matched by it as an MQTT filter. As in MQTT, a wildcard in the first
// level does not match a topic starting with '$' (system topics).
func matches(resource, topic string) bool {
	if !isFilter(resource) {
		return resource == topic
	}
	if strings.HasPrefix(topic, "$") && (resource[0] == '+' || resource[0] == '#') {
		return false
	}
	f, t := strings.Split(resource, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true // matches the parent level and everything below
		}
		if i >= len(t) {
			return false
		}
		if l != "+" && l != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}
