package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndVerifyPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the expected parameters", h)
	}
	if ok, err := VerifyPassword(h, "correct horse"); err != nil || !ok {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
		if ok, err := VerifyPassword(h, wrong); err != nil || ok {
			t.Fatalf("wrong password %q: ok=%v err=%v", wrong, ok, err)
		}
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	good, err := HashPassword("pw-pw-pw-pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	cases := map[string]string{
		"empty":             "",
		"plain text":        "pw-pw-pw-pw",
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":           with(1, "argon2i"),
		"missing part":      strings.Join(parts[:5], "$"),
		"extra part":        good + "$x",
		"version 16":        with(2, "v=16"),
		"version garbage":   with(2, "v=x"),
		"zero memory":       with(3, "m=0,t=2,p=1"),
		"zero time":         with(3, "m=19456,t=0,p=1"),
		"zero threads":      with(3, "m=19456,t=2,p=0"),
		"huge memory":       with(3, "m=99999999,t=2,p=1"),
		"huge time":         with(3, "m=19456,t=1000,p=1"),
		"params garbage":    with(3, "memory=1"),
		"salt not base64":   with(4, "!!!"),
		"key not base64":    with(5, "!!!"),
		"empty key":         with(5, ""),
		"oversized key":     with(5, strings.Repeat("A", 200)),
		"threads overflows": with(3, "m=19456,t=2,p=300"),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(h, "pw-pw-pw-pw")
			if ok {
				t.Fatal("malformed hash verified")
			}
			if !errors.Is(err, errBadHash) {
				t.Fatalf("err = %v, want errBadHash", err)
			}
		})
	}
}

func TestDummyHashVerifies(t *testing.T) {
	// Login verifies against dummyHash for unknown users; a malformed
	// dummy would return at once and make them cheaper than real ones.
	if _, err := VerifyPassword(dummyHash, "anything"); err != nil {
		t.Fatalf("dummy hash: %v", err)
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		pw, err := RandomPassword(16)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 16 {
			t.Fatalf("length %d", len(pw))
		}
		if strings.ContainsAny(pw, "0O1lI") {
			t.Fatalf("%q has an ambiguous character", pw)
		}
		if seen[pw] {
			t.Fatalf("%q repeated", pw)
		}
		seen[pw] = true
	}
}

func TestCheckNewPassword(t *testing.T) {
	if !errors.Is(checkNewPassword("1234567"), ErrWeakPassword) {
		t.Fatal("7 characters accepted")
	}
	if err := checkNewPassword("12345678"); err != nil {
		t.Fatalf("8 characters refused: %v", err)
	}
}
