package dnsd

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// localTTL is the TTL of the box's own answers: short, since leases move.
const localTTL = 30

// cacheSize bounds the forwarding cache; maxCacheTTL caps how long an
// upstream answer is kept, so a changed record is seen within minutes.
const (
	cacheSize   = 512
	maxCacheTTL = 5 * time.Minute
)

// resolver answers queries: local names, then forwarding with a cache.
type resolver struct {
	domain string // with a trailing dot, lower case
	hosts  map[string][]netip.Addr
	// self is the box's own name (a label, lower case), answered with
	// own: the box's addresses on the link the query came in on.
	self   string
	own    map[string][]netip.Addr
	lookup func(string) []netip.Addr
	// upstreams are the resolvers forwarded to, in order.
	upstreams func() []netip.Addr
	upPort    uint16
	exchange  func(m *dns.Msg, server string) (*dns.Msg, error)
	now       func() time.Time

	mu    sync.Mutex
	cache map[cacheKey]cached
}

type cacheKey struct {
	name   string
	qtype  uint16
	qclass uint16
}

type cached struct {
	m       *dns.Msg
	expires time.Time
}

// fromLink tells whether src may ask at an address whose subnet is sub.
// The socket is bound to the VLAN's link, so an IPv6 link-local source is
// a client on that link: one whose address in sub is still being checked
// for duplicates (the first second after SLAAC) sends from its link-local
// address.
func fromLink(src netip.Addr, sub netip.Prefix) bool {
	src = src.Unmap()
	if sub.Addr().Is6() && src.Is6() && src.IsLinkLocalUnicast() {
		return true
	}
	return sub.Contains(src.WithZone(""))
}

// answer is the reply to req from src, which arrived on link at an
// address whose subnet is sub.
func (r *resolver) answer(req *dns.Msg, src netip.Addr, sub netip.Prefix, link string) *dns.Msg {
	m := new(dns.Msg)
	if req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	if !fromLink(src, sub) {
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	r.mu.Lock()
	domain, hosts := r.domain, r.hosts
	if r.self != "" && name == r.self+"."+domain {
		hosts = map[string][]netip.Addr{r.self: r.own[link]}
	}
	r.mu.Unlock()
	if q.Qclass == dns.ClassINET && (name == domain || strings.HasSuffix(name, "."+domain)) {
		return r.local(req, name, q.Qtype, domain, hosts)
	}
	return r.forward(req, cacheKey{name, q.Qtype, q.Qclass})
}

// local answers a name under the domain: A and AAAA records for a
// workload, a client or the box, NXDOMAIN for a name nobody has.
func (r *resolver) local(req *dns.Msg, name string, qtype uint16, domain string, hosts map[string][]netip.Addr) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	label := strings.TrimSuffix(name, "."+domain)
	if name == domain || strings.Contains(label, ".") {
		if name != domain {
			m.Rcode = dns.RcodeNameError
		}
		return m
	}
	addrs := hosts[label]
	if len(addrs) == 0 && r.lookup != nil {
		addrs = r.lookup(label)
	}
	if len(addrs) == 0 {
		m.Rcode = dns.RcodeNameError
		return m
	}
	// A name without a record of the type asked exists all the same:
	// an empty answer, not NXDOMAIN, or a resolver would not ask for
	// the other family.
	for _, a := range addrs {
		a = a.Unmap()
		hdr := dns.RR_Header{Name: req.Question[0].Name, Class: dns.ClassINET, Ttl: localTTL}
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IP(a.AsSlice())})
		case a.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
		}
	}
	return m
}

// forward asks the upstream resolvers, first from the cache.
func (r *resolver) forward(req *dns.Msg, k cacheKey) *dns.Msg {
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[k]
	r.mu.Unlock()
	if ok && now.Before(c.expires) {
		m := c.m.Copy()
		m.Id = req.Id
		ageTTLs(m, uint32(c.expires.Sub(now)/time.Second))
		return m
	}
	q := new(dns.Msg)
	q.SetQuestion(req.Question[0].Name, req.Question[0].Qtype)
	q.Question[0].Qclass = req.Question[0].Qclass
	q.RecursionDesired = true
	for _, up := range r.upstreams() {
		resp, err := r.exchange(q, netip.AddrPortFrom(up, r.upPort).String())
		if err != nil || resp == nil || resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			continue
		}
		r.store(k, resp, now)
		resp.Id = req.Id
		return resp
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	return m
}

// store caches resp for the smallest TTL it carries (a negative answer
// for its SOA's), at most maxCacheTTL; an answer without any TTL is not
// kept.
func (r *resolver) store(k cacheKey, resp *dns.Msg, now time.Time) {
	ttl := time.Duration(-1)
	for _, rr := range append(append([]dns.RR{}, resp.Answer...), resp.Ns...) {
		t := time.Duration(rr.Header().Ttl) * time.Second
		if ttl < 0 || t < ttl {
			ttl = t
		}
	}
	if ttl <= 0 || resp.Truncated {
		return
	}
	ttl = min(ttl, maxCacheTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= cacheSize {
		for key, c := range r.cache {
			if !now.Before(c.expires) {
				delete(r.cache, key)
			}
		}
		for key := range r.cache {
			if len(r.cache) < cacheSize {
				break
			}
			delete(r.cache, key)
		}
	}
	r.cache[k] = cached{m: resp.Copy(), expires: now.Add(ttl)}
}

// ageTTLs lowers the records' TTLs to what is left of the cached time.
func ageTTLs(m *dns.Msg, left uint32) {
	for _, rrs := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeOPT && rr.Header().Ttl > left {
				rr.Header().Ttl = left
			}
		}
	}
}
