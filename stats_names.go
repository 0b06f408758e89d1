package locust

import (
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// manyNames is the number of distinct entries past which a run warns that
// its names probably carry ids.
const manyNames = 1000

const (
	trieBits = 4
	trieFan  = 1 << trieBits
)

// entryTable maps (type, name) to entries. It is a hash trie: a lookup
// takes no lock and does not allocate, and adding an entry (under mu)
// writes only the path to its leaf, so it costs the same with 10 entries
// or 100,000 (no copy of the whole table). Entries are never removed.
type entryTable struct {
	seed maphash.Seed
	root [trieFan]atomic.Pointer[trieNode]

	mu       sync.Mutex // adding entries
	n        atomic.Int64
	examples []string // the first three names, for the many-names warning
	warned   bool
}

// trieNode is either an inner node (kids != nil) or a leaf holding an entry
// and, for entries whose hashes are equal, the next such leaf. Nodes are
// immutable once published, apart from the kids of inner nodes.
type trieNode struct {
	kids *[trieFan]atomic.Pointer[trieNode]
	hash uint64
	e    *entry
	next *trieNode
}

func newEntryTable() *entryTable {
	return &entryTable{seed: maphash.MakeSeed()}
}

func (t *entryTable) hash(typ, name string) uint64 {
	return maphash.String(t.seed, name) ^ maphash.String(t.seed, typ)*0x9e3779b97f4a7c15
}

// get returns the entry (typ, name) with hash h, or nil.
func (t *entryTable) get(h uint64, typ, name string) *entry {
	kids := &t.root
	for shift := uint(0); ; shift += trieBits {
		n := kids[(h>>shift)%trieFan].Load()
		if n == nil {
			return nil
		}
		if n.kids == nil {
			for ; n != nil; n = n.next {
				if n.hash == h && n.e.name == name && n.e.typ == typ {
					return n.e
				}
			}
			return nil
		}
		kids = n.kids
	}
}

// insertLocked adds e with hash h; t.mu must be held and e must not be in
// the table. A reader sees the table before or after the insert, never a
// state in between: new nodes are complete before they are published.
func (t *entryTable) insertLocked(h uint64, e *entry) {
	kids := &t.root
	for shift := uint(0); ; shift += trieBits {
		slot := &kids[(h>>shift)%trieFan]
		n := slot.Load()
		switch {
		case n == nil:
			slot.Store(&trieNode{hash: h, e: e})
			return
		case n.kids != nil:
			kids = n.kids
		case n.hash == h:
			slot.Store(&trieNode{hash: h, e: e, next: n})
			return
		default: // a leaf with another hash: push it one level down
			in := &trieNode{kids: new([trieFan]atomic.Pointer[trieNode])}
			in.kids[(n.hash>>(shift+trieBits))%trieFan].Store(n)
			slot.Store(in)
			kids = in.kids
		}
	}
}

// each calls fn for every entry. Entries added meanwhile may be missed.
func (t *entryTable) each(fn func(*entry)) {
	eachNode(&t.root, fn)
}

func eachNode(kids *[trieFan]atomic.Pointer[trieNode], fn func(*entry)) {
	for i := range kids {
		n := kids[i].Load()
		if n != nil && n.kids != nil {
			eachNode(n.kids, fn)
			continue
		}
		for ; n != nil; n = n.next {
			fn(n.e)
		}
	}
}

// len is the number of entries.
func (t *entryTable) len() int { return int(t.n.Load()) }

// lookup returns the entry for (typ, name), creating it on first use.
func (s *Stats) lookup(typ, name string) *entry {
	h := s.entries.hash(typ, name)
	if e := s.entries.get(h, typ, name); e != nil {
		return e
	}
	return s.addEntry(h, typ, name)
}

func (s *Stats) addEntry(h uint64, typ, name string) *entry {
	t := s.entries
	t.mu.Lock()
	if e := t.get(h, typ, name); e != nil {
		t.mu.Unlock()
		return e
	}
	e := s.newEntry(strings.Clone(typ), strings.Clone(name), false)
	t.insertLocked(h, e)
	n := t.n.Add(1)
	if len(t.examples) < 3 {
		t.examples = append(t.examples, e.name)
	}
	warn := n > manyNames && !t.warned
	t.warned = t.warned || warn
	examples := t.examples
	t.mu.Unlock()
	if warn {
		s.warnManyNames(n, examples)
	}
	return e
}

// warnManyNames tells, once per run, that the names probably carry ids.
func (s *Stats) warnManyNames(n int64, examples []string) {
	log := s.opts.Logger
	if log == nil {
		log = slog.Default()
	}
	quoted := make([]string, len(examples))
	for i, ex := range examples {
		quoted[i] = strconv.Quote(ex)
	}
	log.Warn("more than "+strconv.Itoa(manyNames)+" distinct request names ("+strconv.FormatInt(n, 10)+
		" so far, e.g. "+strings.Join(quoted, ", ")+"): if they carry ids, group them under one name with client.Name(\"/item/{id}\")",
		"names", n, "examples", examples)
}
