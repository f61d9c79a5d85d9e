package upload

import (
	"context"
	"errors"
	"net/url"
	"strings"
)

// secrets are the credentials of one sink, kept out of its errors: an
// SDK's error may quote a request (a SAS is part of its URL) or a
// response that repeats what was sent.
type secrets []string

// add registers a secret in the forms an error may quote it: as given,
// and escaped or unescaped as in a URL.
func (s *secrets) add(values ...string) {
	for _, v := range values {
		if v == "" {
			continue
		}
		*s = append(*s, v, url.QueryEscape(v))
		if u, err := url.QueryUnescape(v); err == nil {
			*s = append(*s, u)
		}
	}
}

// addSAS registers a shared access signature and its signature alone.
func (s *secrets) addSAS(sas string) {
	s.add(strings.TrimPrefix(sas, "?"))
	if q, err := url.ParseQuery(strings.TrimPrefix(sas, "?")); err == nil {
		s.add(q.Get("sig"))
	}
}

// scrub is err with every secret replaced by ***. It unwraps only to a
// context's error (so that a cancellation is still recognised), never to
// the SDK's error, which holds the original text.
func (s secrets) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, v := range s {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "***")
		}
	}
	e := &scrubbed{msg: msg}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			e.cause = c
		}
	}
	return e
}

type scrubbed struct {
	msg   string
	cause error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.cause }
