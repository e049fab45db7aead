package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver fits.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// LookupNetIP calls fn.
func (fn ResolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return fn(ctx, network, host)
}

// BlockedError is a connection the guard refused: the address is not on the
// public internet.
type BlockedError struct {
	Host   string     // as the URL named it
	Addr   netip.Addr // the address it would have connected to
	Reason string     // "private address", "loopback address", …
}

func (e *BlockedError) Error() string {
	if ip, err := netip.ParseAddr(e.Host); e.Host == "" || err == nil && ip.WithZone("") == e.Addr {
		return fmt.Sprintf("refusing to fetch %s: %s", e.Addr, e.Reason)
	}
	return fmt.Sprintf("refusing to fetch %s (%s): %s", e.Host, e.Addr, e.Reason)
}

// guard dials only public addresses. Both the resolved addresses and, in the
// dialer's Control hook, the exact address of every socket about to connect
// are checked, so neither redirects nor DNS rebinding (a name that resolves
// to a public address once and a private one later) can get around it.
type guard struct {
	resolver     Resolver
	allowPrivate bool
	dialer       net.Dialer
	// exempt lets one loopback server through; only tests in this package
	// set it, to serve a first hop whose redirect must then be refused.
	exempt netip.AddrPort
}

func newGuard(r Resolver, allowPrivate bool) *guard {
	if r == nil {
		r = net.DefaultResolver
	}
	g := &guard{resolver: r, allowPrivate: allowPrivate}
	g.dialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return g
}

// DialContext resolves addr's host, drops addresses the guard refuses, and
// connects to the first remaining one that answers.
func (g *guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.lookup(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var refused error    // the first refused address
	var dialErrs []error // failures to connect to allowed ones
	for _, ip := range ips {
		target := net.JoinHostPort(ip.String(), port)
		if err := g.check(host, target); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		conn, err := g.dialer.DialContext(ctx, network, target)
		if err == nil {
			return conn, nil
		}
		dialErrs = append(dialErrs, err)
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case len(dialErrs) > 0:
		return nil, errors.Join(dialErrs...) // a network failure, worth a retry
	case refused != nil:
		return nil, refused
	}
	return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
}

func (g *guard) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	answer, err := g.resolver.LookupNetIP(ctx, ipNet, host)
	ips := make([]netip.Addr, len(answer)) // the resolver may share its slice
	for i, ip := range answer {
		ips[i] = ip.Unmap() // resolvers may answer IPv4 as ::ffff:a.b.c.d
	}
	return ips, err
}

// control runs after the socket is made and before it connects: the last
// word on where a connection goes, whoever dials.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	return g.check("", address)
}

// check returns a *BlockedError when address ("ip:port") is not public.
func (g *guard) check(host, address string) error {
	if g.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to connect to %q: not an IP address", address)
	}
	if g.exempt.IsValid() && ap == g.exempt {
		return nil
	}
	if reason := blockedReason(ap.Addr()); reason != "" {
		return &BlockedError{Host: host, Addr: ap.Addr().WithZone(""), Reason: reason}
	}
	return nil
}

type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// IPv4 ranges that are not the public internet (IANA special-purpose
// registry); the first match names the reason, so specific ones come first.
var blocked4 = []blockedRange{
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("169.254.169.254/32"), "link-local address (cloud metadata service)"},
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved address (this network)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved address (IETF protocol assignments)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "reserved address (documentation)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved address (6to4 relay)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved address (benchmarking)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "reserved address (documentation)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "reserved address (documentation)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
}

// IPv6 ranges outside the public internet. Everything outside 2000::/3
// (global unicast) is refused as well; these give the reason.
var blocked6 = []blockedRange{
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::/96"), "reserved address (IPv4-compatible)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private address (local NAT64)"},
	{netip.MustParsePrefix("100::/64"), "reserved address (discard)"},
	{netip.MustParsePrefix("2001::/23"), "reserved address (IETF protocol assignments)"},
	{netip.MustParsePrefix("2001:db8::/32"), "reserved address (documentation)"},
	{netip.MustParsePrefix("3fff::/20"), "reserved address (documentation)"},
	{netip.MustParsePrefix("fc00::/7"), "private address (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "private address (site-local)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // well-known prefix: IPv4 inside
	sixToFour      = netip.MustParsePrefix("2002::/16")    // 6to4: IPv4 in bits 16–47
)

// blockedReason says why ip is not a public address, or "" when it is.
// IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by
// the IPv4 address inside.
func blockedReason(ip netip.Addr) string {
	ip = ip.WithZone("") // a zoned address never matches a prefix
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is4() {
		for _, b := range blocked4 {
			if b.prefix.Contains(ip) {
				return b.reason
			}
		}
		return ""
	}
	if !ip.Is6() {
		return "invalid address"
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return blockedReason(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return blockedReason(netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, r := range blocked6 {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	if !globalUnicast6.Contains(ip) {
		return "reserved address"
	}
	return ""
}
