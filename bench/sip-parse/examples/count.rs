//! Runs one parser on one message N times, for instruction counting under
//! `valgrind --tool=callgrind` (stable on a noisy machine, unlike wall time).
//! Usage: count <convene|rsip> <invite|register|ok> <parse|typed|owned> <N>

use rsip::message::HasHeaders;
use sip_parse_bench::{INVITE, OK, REGISTER, convene_owned, convene_typed, rsip_typed};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: count <convene|rsip> <invite|register|ok> <parse|typed|owned> <N>");
        std::process::exit(2);
    }
    let msg = match a[2].as_str() {
        "invite" => INVITE,
        "register" => REGISTER,
        _ => OK,
    }
    .as_bytes();
    let n: usize = a[4].parse().unwrap_or(1000);
    let mut acc = 0usize;
    for _ in 0..n {
        acc += match (a[1].as_str(), a[3].as_str()) {
            ("convene", "parse") => sip_msg::Message::parse(std::hint::black_box(msg).to_vec()).map_or(0, |m| m.headers().len()),
            ("convene", "owned") => convene_owned(std::hint::black_box(msg)),
            ("convene", _) => convene_typed(std::hint::black_box(msg)),
            (_, "parse") => rsip::SipMessage::try_from(std::hint::black_box(msg)).map_or(0, |m| m.headers().iter().count()),
            _ => rsip_typed(std::hint::black_box(msg)),
        };
    }
    println!("{acc}");
}
