//! Decisions per second on a large configuration: a dial plan of 200 normalization rules
//! and 2,000 routes over 20 usages (issue 7 asks for ≥ 200,000 decisions/s on one core).
//! Criterion's "thrpt" figure is decisions/s (wall time).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voice::{Engine, Referrer, ReferrerTrust, RequestInput};

const USAGES: usize = 20;

/// A topology with 200 rules, 2,000 routes, 10 trunks and 1,000 users.
fn big_topology() -> String {
    let mut s =
        String::from("[voice]\n[[voice.dial_plan]]\nname = \"global\"\nscope = \"global\"\n");
    // 199 seven-digit local exchange rules (exchanges 200..=398), then a 10-digit rule.
    for exchange in 200..399 {
        let _ = write!(
            s,
            "[[voice.dial_plan.rule]]\nname = \"local-{exchange}\"\npattern = '^({exchange}\\d{{4}})$'\ntranslation = '+1416$1'\n"
        );
    }
    s.push_str(
        "[[voice.dial_plan.rule]]\nname = \"national\"\npattern = '^(\\d{10})$'\ntranslation = '+1$1'\n",
    );
    let all: Vec<String> = (0..USAGES).map(|u| format!("\"usage-{u}\"")).collect();
    let _ = write!(
        s,
        "[[voice.policy]]\nname = \"global\"\nscope = \"global\"\nusages = [{}]\n",
        all.join(", ")
    );
    // 2,000 routes: area codes 200..=399 × the first digit of the exchange.
    let mut i = 0;
    for npa in 200..400 {
        for d in 0..10 {
            let _ = write!(
                s,
                "[[voice.route]]\nname = \"r{i}\"\npattern = '^\\+1{npa}{d}\\d{{6}}$'\nusages = [\"usage-{}\"]\ntrunks = [\"gw{}\", \"gw{}\"]\n",
                i % USAGES,
                i % 10,
                (i + 1) % 10
            );
            i += 1;
        }
    }
    for t in 0..10 {
        let _ = write!(
            s,
            "[[voice.trunk]]\nname = \"gw{t}\"\ngateway = \"gw{t}.example.test\"\nport = 5067\ntransport = \"tls\"\n[[voice.trunk.translation]]\nname = \"strip-plus\"\npattern = '^\\+(\\d+)$'\ntranslation = '$1'\n"
        );
    }
    for u in 0..1000 {
        let _ = write!(
            s,
            "[[voice.user]]\nuri = \"sip:user{u}@example.test\"\nline_uri = \"tel:+1905555{u:04}\"\nenterprise_voice = true\n"
        );
    }
    s.push_str("[[voice.call_park]]\nname = \"orbits\"\nstart = \"*100\"\nend = \"*199\"\npool = \"fe01.example.test\"\n");
    s.push_str("[[voice.unassigned]]\nname = \"vacant\"\nstart = \"+18005550000\"\nend = \"+18005559999\"\nannouncement = \"a\"\n");
    s
}

fn bench(c: &mut Criterion) {
    let src = big_topology();
    let engine = match Engine::from_topology_str(&src, "bench.toml") {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bench topology: {e}");
            return;
        }
    };
    // A mix of dialled forms: local exchange rules early and late in the dial plan,
    // national, E.164 routed, E.164 with no route, local user, call park.
    let numbers = [
        "2001234",
        "3981234",
        "3501234",
        "2125551234",
        "+13995551234",
        "+12005551234",
        "+4420794600",
        "+19055550042",
        "*150",
        "tel:+1-312-555-0100",
    ];
    let inputs: Vec<RequestInput<'_>> = numbers
        .iter()
        .enumerate()
        .map(|(i, to)| RequestInput {
            from: "sip:user7@example.test",
            request_uri: to,
            referrer: (i % 3 == 0).then_some(Referrer {
                uri: "sip:user9@example.test",
                trust: ReferrerTrust::Signed,
            }),
            emergency: false,
            conference_dial_out: false,
        })
        .collect();

    let mut g = c.benchmark_group("voice_decide");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("200_rules_2000_routes", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(engine.decide(black_box(input)));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("voice_compile");
    g.sample_size(10);
    g.bench_function("200_rules_2000_routes", |b| {
        b.iter(|| black_box(Engine::from_topology_str(black_box(&src), "bench.toml").is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
