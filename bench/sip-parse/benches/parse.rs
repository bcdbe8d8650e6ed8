//! Parsing speed of Convene's SIP parser against rsip, on the same three messages, in the
//! same run: a ~900-byte INVITE with SDP, a REGISTER with Digest Authorization, a 200 OK.
//! "parse" only splits the message; "typed" also reads every typed header a proxy needs
//! (Convene through its borrowed views; "typed-owned" through the owned values, for reference).

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use sip_parse_bench::{INVITE, OK, REGISTER, convene_owned, convene_typed, rsip_typed};

fn bench(c: &mut Criterion) {
    for (name, msg) in [
        ("invite", INVITE),
        ("register_digest", REGISTER),
        ("200_ok", OK),
    ] {
        let bytes = msg.as_bytes();
        // Both parsers must accept the message before we time them.
        assert!(convene_typed(bytes) > 0);
        assert_eq!(convene_typed(bytes), convene_owned(bytes));
        assert!(rsip_typed(bytes) > 0);
        let mut g = c.benchmark_group(format!("{name}_{}B", bytes.len()));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("parse", "convene"), |b| {
            b.iter(|| sip_msg::Message::parse(black_box(bytes).to_vec()).expect("parses"))
        });
        g.bench_function(BenchmarkId::new("parse", "rsip"), |b| {
            b.iter(|| rsip::SipMessage::try_from(black_box(bytes)).expect("parses"))
        });
        g.bench_function(BenchmarkId::new("typed", "convene"), |b| {
            b.iter(|| convene_typed(black_box(bytes)))
        });
        g.bench_function(BenchmarkId::new("typed", "rsip"), |b| {
            b.iter(|| rsip_typed(black_box(bytes)))
        });
        g.bench_function(BenchmarkId::new("typed-owned", "convene"), |b| {
            b.iter(|| convene_owned(black_box(bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
