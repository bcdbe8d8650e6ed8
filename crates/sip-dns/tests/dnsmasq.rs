//! RFC 3263 resolution against a real DNS server: dnsmasq on loopback, one per test, serving
//! the zone each test writes. Needs `/usr/sbin/dnsmasq` (Debian `dnsmasq-base`; scripts/test
//! installs it) or `DNSMASQ=/path`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use sip_dns::{
    Blacklist, Failure, LocateError, Locator, LocatorConfig, LyncHit, LyncService, Outcome,
    Resolution, Targets, Transport, WeightRng, XorShiftRng,
};
use sip_msg::{SipUri, Uri};
use support::Dnsmasq;

/// Plays back scripted SRV weight picks, then 0.
struct Script(Vec<u32>);
impl WeightRng for Script {
    fn pick(&mut self, _total: u32) -> u32 {
        if self.0.is_empty() {
            0
        } else {
            self.0.remove(0)
        }
    }
}

fn config(d: &Dnsmasq) -> LocatorConfig {
    LocatorConfig::servers(vec![d.addr], Duration::from_secs(2), 2)
}

fn locator(d: &Dnsmasq) -> Locator {
    Locator::with_rng(&config(d), Box::new(XorShiftRng::with_seed(7))).unwrap()
}

fn sip(s: &str) -> SipUri {
    match Uri::parse(s).unwrap() {
        Uri::Sip(u) => u,
        other => panic!("not a SIP URI: {other:?}"),
    }
}

fn targets(r: &Resolution) -> Vec<String> {
    r.targets
        .iter()
        .map(|t| format!("{} {}", t.transport, t.addr))
        .collect()
}

fn queried(r: &Resolution) -> Vec<String> {
    r.queried.names()
}

// RFC 3263 §4.1 example zone: NAPTR prefers TLS, then TCP, then UDP; each leads to an SRV,
// each SRV target to A/AAAA.
#[tokio::test]
async fn naptr_srv_a_chain() {
    let d = Dnsmasq::start(&[
        "--naptr-record=n.test,50,50,s,SIPS+D2T,,_sips._tcp.n.test",
        "--naptr-record=n.test,90,50,s,SIP+D2T,,_sip._tcp.n.test",
        "--naptr-record=n.test,100,50,s,SIP+D2U,,_sip._udp.n.test",
        "--srv-host=_sips._tcp.n.test,tls.n.test,5061,0,0",
        "--srv-host=_sip._tcp.n.test,tcp.n.test,5062,0,0",
        "--srv-host=_sip._udp.n.test,udp.n.test,5063,0,0",
        "--host-record=tls.n.test,192.0.2.11",
        "--host-record=tcp.n.test,192.0.2.12",
        "--host-record=udp.n.test,192.0.2.13,2001:db8::13",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:alice@n.test")).await.unwrap();
    assert_eq!(
        targets(&r),
        [
            "TLS 192.0.2.11:5061",
            "TCP 192.0.2.12:5062",
            "UDP 192.0.2.13:5063",
            "UDP [2001:db8::13]:5063",
        ]
    );
    let want = [
        "NAPTR n.test",
        "SRV _sips._tcp.n.test",
        "A tls.n.test",
        "AAAA tls.n.test",
        "SRV _sip._tcp.n.test",
        "A tcp.n.test",
        "AAAA tcp.n.test",
        "SRV _sip._udp.n.test",
        "A udp.n.test",
        "AAAA udp.n.test",
    ];
    assert_eq!(queried(&r), want);
    assert_eq!(r.queried.0[0].outcome, Outcome::Answers(3));
    assert_eq!(
        r.queried.0[3].outcome,
        Outcome::NoRecords,
        "tls.n.test has no AAAA"
    );
    // The server saw exactly these queries, in this order.
    assert_eq!(d.queries_seen(), want);
    assert_eq!(r.targets[0].host, "tls.n.test");
}

// RFC 2782: lowest priority first; weighted random order within a priority, the picks
// injected. Records a/b/c share priority 10 (weights 60, 30, 10: running sums 60, 90, 100),
// d has priority 20.
#[tokio::test]
async fn srv_priorities_and_weights() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sip._tcp.w.test,c.w.test,5060,10,10",
        "--srv-host=_sip._tcp.w.test,d.w.test,5060,20,0",
        "--srv-host=_sip._tcp.w.test,a.w.test,5060,10,60",
        "--srv-host=_sip._tcp.w.test,b.w.test,5060,10,30",
        "--host-record=a.w.test,192.0.2.21",
        "--host-record=b.w.test,192.0.2.22",
        "--host-record=c.w.test,192.0.2.23",
        "--host-record=d.w.test,192.0.2.24",
    ]);
    let uri = sip("sip:w.test;transport=tcp");
    let table: [(&[u32], [&str; 4]); 3] = [
        // 95 → c (90 < 95 <= 100); [a, b]: 0 → a; then b; then d.
        (&[95, 0, 0, 0], ["c", "a", "b", "d"]),
        // 61 → b (60 < 61 <= 90); [a, c] sums 60, 70: 61 → c; then a; then d.
        (&[61, 61, 0, 0], ["b", "c", "a", "d"]),
        // 0 → a; [b, c] sums 30, 40: 31 → c; then b; then d.
        (&[0, 31, 0, 0], ["a", "c", "b", "d"]),
    ];
    for (picks, want) in table {
        let loc = Locator::with_rng(&config(&d), Box::new(Script(picks.to_vec()))).unwrap();
        let r = loc.locate(&uri).await.unwrap();
        let hosts: Vec<&str> = r
            .targets
            .iter()
            .map(|t| t.host.strip_suffix(".w.test").unwrap())
            .collect();
        assert_eq!(hosts, want, "picks {picks:?}");
        assert!(r.targets.iter().all(|t| t.transport == Transport::Tcp));
    }

    // RFC 2782 "proportionately higher probability", through the real server: with the
    // default generator (seeded) a comes first about 60 % of the time.
    let loc = Locator::with_rng(&config(&d), Box::new(XorShiftRng::with_seed(3))).unwrap();
    let mut a_first = 0;
    for _ in 0..200 {
        let r = loc.locate(&uri).await.unwrap();
        assert_eq!(r.targets[3].host, "d.w.test", "priority 20 always last");
        a_first += usize::from(r.targets[0].host == "a.w.test");
    }
    assert!((95..=145).contains(&a_first), "a first {a_first}/200");
}

// RFC 3263 §4.1/§4.2: a transport parameter skips NAPTR; SRV for that transport, and without
// SRV records the host's addresses on the transport's default port.
#[tokio::test]
async fn explicit_transport() {
    let d = Dnsmasq::start(&[
        "--naptr-record=x.test,10,10,s,SIP+D2U,,_sip._udp.x.test",
        "--srv-host=_sip._udp.x.test,pbx.x.test,5090,0,0",
        "--srv-host=_sip._tcp.x.test,pbx.x.test,5070,0,0",
        "--host-record=pbx.x.test,192.0.2.31",
        "--host-record=x.test,192.0.2.30",
    ]);
    let loc = locator(&d);
    let r = loc
        .locate(&sip("sip:bob@x.test;transport=TCP"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["TCP 192.0.2.31:5070"]);
    assert_eq!(
        queried(&r),
        ["SRV _sip._tcp.x.test", "A pbx.x.test", "AAAA pbx.x.test"]
    );

    // transport=tls: `_sips._tcp` (RFC 3263 §4.2); none, so A/AAAA of x.test on 5061.
    let r = loc
        .locate(&sip("sip:bob@x.test;transport=tls"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["TLS 192.0.2.30:5061"]);
    assert_eq!(
        queried(&r),
        ["SRV _sips._tcp.x.test", "A x.test", "AAAA x.test"]
    );
    assert!(
        !d.queries_seen().iter().any(|q| q.starts_with("NAPTR")),
        "no NAPTR query with an explicit transport: {:?}",
        d.queries_seen()
    );
}

// RFC 3263 §4.2: an explicit port means A/AAAA only, even where NAPTR and SRV exist.
#[tokio::test]
async fn explicit_port() {
    let d = Dnsmasq::start(&[
        "--naptr-record=x.test,10,10,s,SIP+D2T,,_sip._tcp.x.test",
        "--srv-host=_sip._tcp.x.test,pbx.x.test,5070,0,0",
        "--host-record=pbx.x.test,192.0.2.31",
        "--host-record=x.test,192.0.2.30",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:bob@x.test:5999")).await.unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.30:5999"]);
    assert_eq!(queried(&r), ["A x.test", "AAAA x.test"]);
    let r = loc.locate(&sip("sips:bob@X.Test:5998")).await.unwrap();
    assert_eq!(targets(&r), ["TLS 192.0.2.30:5998"]);
    let r = loc
        .locate(&sip("sip:bob@x.test:5997;transport=tcp"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["TCP 192.0.2.30:5997"]);
    // Only address queries reached the server: no NAPTR, no SRV.
    let seen = d.queries_seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        seen.iter().all(|q| q == "A x.test" || q == "AAAA x.test"),
        "{seen:?}"
    );
}

// RFC 3263 §4.2: a numeric host needs no DNS: it resolves even with a dead DNS server.
#[tokio::test]
async fn numeric_host_asks_no_dns() {
    let black_hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cfg = LocatorConfig::servers(
        vec![black_hole.local_addr().unwrap()],
        Duration::from_millis(200),
        1,
    );
    let loc = Locator::new(&cfg).unwrap();
    let table = [
        ("sip:alice@192.0.2.1", "UDP 192.0.2.1:5060"),
        ("sip:192.0.2.1;transport=tcp", "TCP 192.0.2.1:5060"),
        ("sips:[2001:db8::1]:5999", "TLS [2001:db8::1]:5999"),
        ("sip:bob@example.test;maddr=192.0.2.7", "UDP 192.0.2.7:5060"),
    ];
    for (uri, want) in table {
        let r = loc.locate(&sip(uri)).await.unwrap();
        assert_eq!(targets(&r), [want], "{uri}");
        assert!(r.queried.0.is_empty());
    }
    let mut buf = [0u8; 512];
    black_hole.set_nonblocking(true).unwrap();
    assert!(
        black_hole.recv_from(&mut buf).is_err(),
        "no query reached the DNS server"
    );
}

// RFC 3263 §4.1: for a SIPS URI only TLS services count, in NAPTR and in the SRV fallback.
#[tokio::test]
async fn sips_uses_tls_only() {
    let d = Dnsmasq::start(&[
        "--naptr-record=s.test,10,10,s,SIP+D2U,,_sip._udp.s.test",
        "--naptr-record=s.test,20,10,s,SIPS+D2T,,_sips._tcp.s.test",
        "--srv-host=_sip._udp.s.test,sip.s.test,5060,0,0",
        "--srv-host=_sips._tcp.s.test,sip.s.test,5061,0,0",
        "--host-record=sip.s.test,192.0.2.41",
        "--host-record=plain.test,192.0.2.42",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sips:bob@s.test")).await.unwrap();
    assert_eq!(targets(&r), ["TLS 192.0.2.41:5061"]);
    assert_eq!(
        queried(&r),
        [
            "NAPTR s.test",
            "SRV _sips._tcp.s.test",
            "A sip.s.test",
            "AAAA sip.s.test"
        ]
    );
    // The same domain as sip: follows the NAPTR order (UDP first), TLS retained.
    let r = loc.locate(&sip("sip:bob@s.test")).await.unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.41:5060", "TLS 192.0.2.41:5061"]);

    // No NAPTR, no SRV: only `_sips._tcp` is asked, then A/AAAA on 5061 over TLS.
    let r = loc.locate(&sip("sips:bob@plain.test")).await.unwrap();
    assert_eq!(targets(&r), ["TLS 192.0.2.42:5061"]);
    assert_eq!(
        queried(&r),
        [
            "NAPTR plain.test",
            "SRV _sips._tcp.plain.test",
            "A plain.test",
            "AAAA plain.test"
        ]
    );
    // The same as sip: all three SRV names, then UDP on 5060 (RFC 3263 §4.1).
    let r = loc.locate(&sip("sip:bob@plain.test")).await.unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.42:5060"]);
    assert_eq!(
        queried(&r),
        [
            "NAPTR plain.test",
            "SRV _sips._tcp.plain.test",
            "SRV _sip._tcp.plain.test",
            "SRV _sip._udp.plain.test",
            "A plain.test",
            "AAAA plain.test"
        ]
    );
}

// AAAA answers become IPv6 targets; A before AAAA unless `prefer_ipv6`.
#[tokio::test]
async fn ipv6_aaaa() {
    let d = Dnsmasq::start(&[
        "--host-record=v6only.test,2001:db8::7",
        "--host-record=dual.test,192.0.2.8,2001:db8::8",
        "--srv-host=_sip._tcp.v6srv.test,v6only.test,5072,0,0",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:v6only.test:5060")).await.unwrap();
    assert_eq!(targets(&r), ["UDP [2001:db8::7]:5060"]);
    assert_eq!(r.queried.0[0].outcome, Outcome::NoRecords, "no A record");
    let r = loc
        .locate(&sip("sip:v6srv.test;transport=tcp"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["TCP [2001:db8::7]:5072"]);
    let r = loc.locate(&sip("sip:dual.test:5060")).await.unwrap();
    assert_eq!(
        targets(&r),
        ["UDP 192.0.2.8:5060", "UDP [2001:db8::8]:5060"]
    );

    let mut cfg = config(&d);
    cfg.prefer_ipv6 = true;
    let loc6 = Locator::new(&cfg).unwrap();
    let r = loc6.locate(&sip("sip:dual.test:5060")).await.unwrap();
    assert_eq!(
        targets(&r),
        ["UDP [2001:db8::8]:5060", "UDP 192.0.2.8:5060"]
    );
    assert_eq!(queried(&r), ["AAAA dual.test", "A dual.test"]);
}

// MS-SIP.md §5.1: each Lync SRV name, resolved with its transport.
#[tokio::test]
async fn lync_srv_names() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sipinternaltls._tcp.contoso.test,pool.contoso.test,5061,0,0",
        "--srv-host=_sipinternal._tcp.contoso.test,pool.contoso.test,5060,0,0",
        "--srv-host=_sip._tls.contoso.test,edge.contoso.test,443,0,0",
        "--srv-host=_sipfederationtls._tcp.contoso.test,edge.contoso.test,5061,0,0",
        "--srv-host=_sip._tcp.contoso.test,edge.contoso.test,5060,0,0",
        "--host-record=pool.contoso.test,192.0.2.51",
        "--host-record=edge.contoso.test,198.51.100.52",
        // The field article's case (seed 003): only `_sip._tls`, pointing at sip.<domain>:5061.
        "--srv-host=_sip._tls.tailspin.test,sip.tailspin.test,5061,0,0",
        "--host-record=sip.tailspin.test,203.0.113.45",
        // No SRV at all: the host fallbacks.
        "--host-record=sipexternal.fabrikam.test,203.0.113.60",
    ]);
    let loc = locator(&d);
    let table = [
        (LyncService::InternalTls, "TLS 192.0.2.51:5061"),
        (LyncService::InternalTcp, "TCP 192.0.2.51:5060"),
        (LyncService::ExternalTls, "TLS 198.51.100.52:443"),
        (LyncService::FederationTls, "TLS 198.51.100.52:5061"),
        (LyncService::ExternalTcp, "TCP 198.51.100.52:5060"),
    ];
    for (s, want) in table {
        let r = loc.locate_service(s, "Contoso.test").await.unwrap();
        assert_eq!(targets(&r), [want], "{s}");
        assert_eq!(
            queried(&r)[0],
            format!("SRV {}", s.srv_name("contoso.test"))
        );
    }

    // A client signing in finds the internal pool first (MS-SIP.md §5.2).
    let (hit, r) = loc
        .discover_lync("contoso.test", &LyncService::CLIENT_SIGN_IN)
        .await
        .unwrap();
    assert_eq!(hit, LyncHit::Srv(LyncService::InternalTls));
    assert_eq!(targets(&r), ["TLS 192.0.2.51:5061"]);

    // Seed 003: `_sipinternaltls._tcp` fails, `_sip._tls` answers sip.tailspintoys:5061.
    let before = d.queries_seen().len();
    let (hit, r) = loc
        .discover_lync("tailspin.test", &LyncService::ANONYMOUS_JOIN)
        .await
        .unwrap();
    assert_eq!(hit, LyncHit::Srv(LyncService::ExternalTls));
    assert_eq!(targets(&r), ["TLS 203.0.113.45:5061"]);
    let want = [
        "SRV _sipinternaltls._tcp.tailspin.test",
        "SRV _sip._tls.tailspin.test",
        "A sip.tailspin.test",
        "AAAA sip.tailspin.test",
    ];
    assert_eq!(queried(&r), want);
    assert_eq!(r.queried.0[0].outcome, Outcome::NxDomain);
    assert_eq!(d.queries_seen()[before..], want);

    // No SRV: sipinternal, sip, then sipexternal answers; TLS on 443 then 5061.
    let (hit, r) = loc
        .discover_lync("fabrikam.test", &LyncService::ANONYMOUS_JOIN)
        .await
        .unwrap();
    assert_eq!(hit, LyncHit::Host("sipexternal.fabrikam.test".into()));
    assert_eq!(
        targets(&r),
        ["TLS 203.0.113.60:443", "TLS 203.0.113.60:5061"]
    );
    assert_eq!(
        queried(&r),
        [
            "SRV _sipinternaltls._tcp.fabrikam.test",
            "SRV _sip._tls.fabrikam.test",
            "A sipinternal.fabrikam.test",
            "AAAA sipinternal.fabrikam.test",
            "A sip.fabrikam.test",
            "AAAA sip.fabrikam.test",
            "A sipexternal.fabrikam.test",
            "AAAA sipexternal.fabrikam.test",
        ]
    );

    // A domain without the federation record: a typed error naming the query, and the
    // ms-diagnostics entry an edge answers with (1008).
    let e = loc
        .locate_service(LyncService::FederationTls, "tailspin.test")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LocateError::NotFound { domain, .. } if domain == "tailspin.test"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "no SIP server found for tailspin.test: queried SRV _sipfederationtls._tcp.tailspin.test (NXDOMAIN)"
    );
    assert_eq!(
        e.diagnostic().header_value(),
        "1008;reason=\"Unable to resolve DNS SRV record\";domain=\"tailspin.test\""
    );
}

// Nothing anywhere: NotFound, naming every query RFC 3263 made, in order.
#[tokio::test]
async fn nxdomain_is_a_typed_error_naming_the_queries() {
    let d = Dnsmasq::start(&["--host-record=elsewhere.test,192.0.2.99"]);
    let loc = locator(&d);
    let e = loc.locate(&sip("sip:alice@void.test")).await.unwrap_err();
    let LocateError::NotFound { domain, queried } = &e else {
        panic!("expected NotFound, got {e:?}");
    };
    assert_eq!(domain, "void.test");
    let want = [
        "NAPTR void.test",
        "SRV _sips._tcp.void.test",
        "SRV _sip._tcp.void.test",
        "SRV _sip._udp.void.test",
        "A void.test",
        "AAAA void.test",
    ];
    assert_eq!(queried.names(), want);
    assert!(queried.0.iter().all(|q| q.outcome == Outcome::NxDomain));
    assert_eq!(d.queries_seen(), want);
    // The last lookup was for addresses: 1014 naming the host.
    assert_eq!(e.diag_code().id, 1014);
    assert_eq!(e.diagnostic().get("fqdn"), Some("void.test"));
    assert_eq!(
        e.to_string(),
        "no SIP server found for void.test: queried NAPTR void.test (NXDOMAIN), \
         SRV _sips._tcp.void.test (NXDOMAIN), SRV _sip._tcp.void.test (NXDOMAIN), \
         SRV _sip._udp.void.test (NXDOMAIN), A void.test (NXDOMAIN), AAAA void.test (NXDOMAIN)"
    );

    // The name exists, with no record of any type asked (NODATA): still NotFound.
    let e = loc.locate(&sip("sip:elsewhere.test;transport=udp")).await;
    assert!(e.is_ok(), "A fallback on the default port: {e:?}");
    let e = loc
        .locate(&sip("sip:nothing-here.elsewhere.test:5060"))
        .await
        .unwrap_err();
    assert_eq!(
        e.queried()
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["nothing-here.elsewhere.test", "nothing-here.elsewhere.test"]
    );
}

// A DNS server that never answers: a Timeout error within a bounded time, naming the query.
#[tokio::test]
async fn dead_server_times_out_quickly() {
    let black_hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cfg = LocatorConfig::servers(
        vec![black_hole.local_addr().unwrap()],
        Duration::from_millis(300),
        1,
    );
    let loc = Locator::new(&cfg).unwrap();
    let t0 = Instant::now();
    let e = loc.locate(&sip("sip:alice@dead.test")).await.unwrap_err();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let LocateError::Timeout { domain, queried } = &e else {
        panic!("expected Timeout, got {e:?}");
    };
    assert_eq!(domain, "dead.test");
    assert_eq!(
        queried.names(),
        ["NAPTR dead.test"],
        "stops at the first timeout"
    );
    assert_eq!(queried.0[0].outcome, Outcome::Timeout);
    assert!(e.to_string().contains("NAPTR dead.test (timed out)"), "{e}");
    assert_eq!(e.diag_code().id, 1007, "DNS down: temporarily cannot route");
}

// Nothing listening at all on the server's port: also a bounded, typed failure.
#[tokio::test]
async fn closed_port_fails_quickly() {
    let port = support::free_port();
    let cfg = LocatorConfig::servers(
        vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))],
        Duration::from_millis(300),
        1,
    );
    let loc = Locator::new(&cfg).unwrap();
    let t0 = Instant::now();
    let e = loc
        .locate(&sip("sip:alice@dead.test;transport=tcp"))
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // Unconnected UDP never sees the ICMP port-unreachable: this is a timeout too.
    assert!(matches!(e, LocateError::Timeout { .. }), "{e:?}");
    assert_eq!(e.queried()[0].name, "_sip._tcp.dead.test");
}

// A server address the system refuses to send to (broadcast without SO_BROADCAST: EACCES):
// Unreachable at once, not a timeout.
#[tokio::test]
async fn unsendable_server_is_unreachable() {
    let cfg = LocatorConfig::servers(
        vec![std::net::SocketAddr::from(([255, 255, 255, 255], 53))],
        Duration::from_secs(5),
        1,
    );
    let loc = Locator::new(&cfg).unwrap();
    let t0 = Instant::now();
    let e = loc
        .locate(&sip("sip:alice@dead.test:5060"))
        .await
        .unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    let LocateError::Unreachable { domain, queried } = &e else {
        panic!("expected Unreachable, got {e:?}");
    };
    assert_eq!(domain, "dead.test");
    assert_eq!(queried.names(), ["A dead.test"]);
    assert!(
        matches!(queried.0[0].outcome, Outcome::Unreachable(_)),
        "{e}"
    );
}

// RFC 3263 §4.3 over a real resolution: a 503 from the first target moves to the next, and
// the blacklist keeps the failed one out of the next request.
#[tokio::test]
async fn failover_over_resolved_targets() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sip._tcp.f.test,one.f.test,5060,10,0",
        "--srv-host=_sip._tcp.f.test,two.f.test,5060,20,0",
        "--host-record=one.f.test,192.0.2.61",
        "--host-record=two.f.test,192.0.2.62",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:f.test;transport=tcp")).await.unwrap();
    let now = Instant::now();
    let mut ts = Targets::new(r.targets.clone(), Blacklist::new(Duration::from_secs(60)));
    let first = ts.next(now).unwrap();
    assert_eq!(first.addr.to_string(), "192.0.2.61:5060");
    ts.failed(
        &first,
        Failure::ServiceUnavailable { retry_after: None },
        now,
    );
    assert_eq!(ts.next(now).unwrap().addr.to_string(), "192.0.2.62:5060");
    assert_eq!(ts.next(now), None);

    let mut again = Targets::new(r.targets, ts.into_blacklist());
    assert_eq!(
        again
            .next(now + Duration::from_secs(1))
            .unwrap()
            .addr
            .to_string(),
        "192.0.2.62:5060"
    );
}

// RFC 2782: an SRV answer of "." declines the service; RFC 3263 §4.2: SRV records were found,
// so there is no A/AAAA fallback either.
#[tokio::test]
async fn declined_service_does_not_fall_back_to_addresses() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sip._tcp.d.test",
        "--host-record=d.test,192.0.2.70",
    ]);
    let loc = locator(&d);
    let e = loc
        .locate(&sip("sip:d.test;transport=tcp"))
        .await
        .unwrap_err();
    assert_eq!(e.queried().len(), 1, "{e}");
    assert_eq!(e.queried()[0].outcome, Outcome::Declined);
    assert_eq!(
        e.to_string(),
        "no SIP server found for d.test: queried SRV _sip._tcp.d.test (service declined: target \".\")"
    );
    let e = loc.locate(&sip("sip:d.test")).await.unwrap_err();
    let LocateError::NotFound { queried, .. } = &e else {
        panic!("expected NotFound, got {e:?}");
    };
    assert_eq!(
        queried.names(),
        [
            "NAPTR d.test",
            "SRV _sips._tcp.d.test",
            "SRV _sip._tcp.d.test",
            "SRV _sip._udp.d.test"
        ]
    );
    // Without the SRV decline the same host is reached by its address (contrast).
    let r = loc.locate(&sip("sip:d.test;transport=udp")).await.unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.70:5060"]);
}

// An SRV target without addresses yields nothing from that record; the other record is used.
#[tokio::test]
async fn srv_target_without_address_is_skipped() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sip._udp.g.test,ghost.g.test,5060,1,0",
        "--srv-host=_sip._udp.g.test,real.g.test,5062,2,0",
        "--host-record=real.g.test,192.0.2.81",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:g.test;transport=udp")).await.unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.81:5062"]);
    assert_eq!(
        queried(&r),
        [
            "SRV _sip._udp.g.test",
            "A ghost.g.test",
            "AAAA ghost.g.test",
            "A real.g.test",
            "AAAA real.g.test"
        ]
    );
    assert_eq!(r.queried.0[1].outcome, Outcome::NxDomain);
}

// RFC 3263 §5: a response whose connection failed goes to the Via sent-by: SRV for the Via's
// transport when it has no port, A/AAAA when it has one.
#[tokio::test]
async fn response_to_via_sent_by() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sips._tcp.client.test,backup.client.test,5071,0,0",
        "--host-record=backup.client.test,192.0.2.91",
        "--host-record=pc.client.test,192.0.2.92",
    ]);
    let loc = locator(&d);
    let via = |s: &str| sip_msg::parse_one::<sip_msg::Via>(s).unwrap();
    let r = loc
        .locate_via(&via("SIP/2.0/TLS client.test;branch=z9hG4bK77"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["TLS 192.0.2.91:5071"]);
    assert_eq!(queried(&r)[0], "SRV _sips._tcp.client.test");
    let r = loc
        .locate_via(&via("SIP/2.0/UDP pc.client.test:5099;branch=z9hG4bK77"))
        .await
        .unwrap();
    assert_eq!(targets(&r), ["UDP 192.0.2.92:5099"]);
    assert_eq!(queried(&r), ["A pc.client.test", "AAAA pc.client.test"]);
}

// An SRV target that is an alias (CNAME) still yields the address it points to.
#[tokio::test]
async fn cname_target_is_followed() {
    let d = Dnsmasq::start(&[
        "--srv-host=_sip._tcp.c.test,alias.c.test,5060,0,0",
        "--cname=alias.c.test,real.c.test",
        "--host-record=real.c.test,192.0.2.101,2001:db8::101",
    ]);
    let loc = locator(&d);
    let r = loc.locate(&sip("sip:c.test;transport=tcp")).await.unwrap();
    assert_eq!(
        targets(&r),
        ["TCP 192.0.2.101:5060", "TCP [2001:db8::101]:5060"]
    );
    assert_eq!(r.targets[0].host, "alias.c.test");
    assert_eq!(
        r.queried.0[1].outcome,
        Outcome::Answers(1),
        "the A record, not the CNAME"
    );
}
