//! How long the edge takes to decide: one outbound rejection (1017), a request followed
//! through two edges with a wrapped refusal (1034), a whole client join with fallback, and
//! decoding a C3P addUser body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use federation::cccp::AddUserRequest;
use federation::{Dns, FocusUri, Policy, SipUri, SrvTarget, World, parse_topology};

fn edge(body: &str) -> Policy {
    Policy::new(parse_topology(&format!("[edge]\n{body}"), "bench.toml").unwrap())
}

fn world(contoso_extra: &str, tailspin_extra: &str) -> World {
    let contoso = edge(&format!(
        "fqdn = \"sipfed.contoso.com\"\nfederation = true\nremote_user_access = true\nanonymous_user_access = true\nsip_domains = [{{ domain = \"contoso.com\" }}]\nhosting_providers = [{{ name = \"LyncOnline\", edge_fqdn = \"sipfed.online.lync.com\", verification = \"always-verifiable\" }}]\n{contoso_extra}"
    ));
    let tailspin = edge(&format!(
        "fqdn = \"sip.tailspintoys.com\"\nfederation = true\npartner_discovery = true\nremote_user_access = true\nanonymous_user_access = true\nsip_domains = [{{ domain = \"tailspintoys.com\" }}]\n{tailspin_extra}"
    ));
    let mut dns = Dns::new();
    dns.add_srv(
        "_sipfederationtls._tcp.tailspintoys.com",
        SrvTarget::new("sip.tailspintoys.com", 5061),
    );
    dns.add_srv(
        "_sipfederationtls._tcp.contoso.com",
        SrvTarget::new("sipfed.contoso.com", 5061),
    );
    dns.add_srv(
        "_sip._tls.tailspintoys.com",
        SrvTarget::new("sip.tailspintoys.com", 5061),
    );
    World::new(vec![contoso, tailspin], dns)
}

fn bench(c: &mut Criterion) {
    let karen = SipUri::parse("sip:karen@contoso.com").unwrap();
    let focus =
        FocusUri::parse("sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ")
            .unwrap();
    let to = focus.to_uri();

    let w1017 = world("", "");
    c.bench_function("request 1017 (one edge)", |b| {
        b.iter(|| black_box(w1017.request(black_box(&karen), black_box(&to))))
    });
    let w1034 = world(
        "partner_discovery = true",
        "blocked_domains = [{ domain = \"contoso.com\" }]",
    );
    c.bench_function("request 1034 (two edges)", |b| {
        b.iter(|| black_box(w1034.request(black_box(&karen), black_box(&to))))
    });
    c.bench_function("join with anonymous fallback", |b| {
        b.iter(|| {
            black_box(w1017.join(
                black_box(&karen),
                black_box(&focus),
                "36825c7a-a4ea-430b-aa85-e8aa6ee97ebc",
            ))
        })
    });
    let xml = AddUserRequest::new(
        &focus,
        &karen,
        387_792_480,
        "attendee",
        "{9f1c3a52-7b7e-4c61-9b0e-0f3b2c1d4e5f}",
    )
    .encode()
    .unwrap();
    c.bench_function("decode C3P addUser", |b| {
        b.iter(|| black_box(AddUserRequest::decode(black_box(&xml)).unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
