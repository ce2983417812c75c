package client

import "time"

// maxBans bounds the Client's ban table. A ban costs its subject a whole
// piece of bad data, so the table fills slowly; past the bound expired and
// then temporary bans make room before permanent ones.
const maxBans = 4096

// ban is one entry of the ban table: who (the key), why, and until when
// (the zero time: for good). It is plain data, so the rule can move to a
// peer manager as is.
type ban struct {
	reason string
	until  time.Time
}

// banList is the Client's ban table, keyed by banKeys/addrBanKeys strings
// ("id:...", "addr:HOST:PORT", "ip:..."). It is pure (now is a parameter)
// and not safe for concurrent use; the Client's mutex guards it.
type banList struct {
	max     int
	entries map[string]ban
}

func newBanList(max int) banList { return banList{max: max, entries: make(map[string]ban)} }

// add bans key for reason until until; a ban already in force is only
// ever lengthened (a permanent ban stays permanent).
func (b *banList) add(key, reason string, until, now time.Time) {
	if old, ok := b.entries[key]; ok && old.active(now) && (old.until.IsZero() || (!until.IsZero() && until.Before(old.until))) {
		return
	}
	if _, ok := b.entries[key]; !ok && len(b.entries) >= b.max {
		b.makeRoom(now)
	}
	b.entries[key] = ban{reason: reason, until: until}
}

// banned reports whether key is banned at now; an expired entry is dropped.
func (b *banList) banned(key string, now time.Time) bool {
	e, ok := b.entries[key]
	if !ok {
		return false
	}
	if !e.active(now) {
		delete(b.entries, key)
		return false
	}
	return true
}

// makeRoom drops expired entries, else one temporary ban (the one that
// ends first), else one permanent ban.
func (b *banList) makeRoom(now time.Time) {
	var first string
	var firstUntil time.Time
	for k, e := range b.entries {
		switch {
		case !e.active(now):
			delete(b.entries, k)
		case !e.until.IsZero() && (firstUntil.IsZero() || e.until.Before(firstUntil)):
			first, firstUntil = k, e.until
		}
	}
	if len(b.entries) < b.max {
		return
	}
	if first != "" {
		delete(b.entries, first)
		return
	}
	for k := range b.entries {
		delete(b.entries, k)
		return
	}
}

func (e ban) active(now time.Time) bool { return e.until.IsZero() || now.Before(e.until) }
