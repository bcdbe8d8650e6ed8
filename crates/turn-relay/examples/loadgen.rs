//! A TURN load generator for benchmarks (bench/turn_relay_loadgen.sh): coturn's
//! `turnutils_uclient` saturates its own CPU long before a relay does, so the relay's
//! ceiling cannot be read with it.
//!
//! `loadgen SERVER USER PASSWORD ALLOCATIONS RATE SECONDS LEN`
//!
//! Makes ALLOCATIONS allocations on the TURN server at SERVER (UDP) with long-term
//! credentials (RFC 8656 §7.2, RFC 8489 §9.2), binds channel 0x4000 of each to one echo peer
//! of its own (RFC 8656 §12), then sends RATE ChannelData messages per second in total
//! (LEN bytes of data each), round robin over the allocations, for SECONDS. The peer echoes
//! every datagram to the relayed address it came from, so each message is relayed twice.
//! Prints one line: `sent=… at_peer=… back=… relayed=… wall=… loss=…%`, where loss counts
//! messages that did not come back.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use turn_proto::channel::encode_channel_data;
use turn_proto::{Attribute, Class, IntegrityKey, Message, Method, TransactionId, decode};

const CHANNEL: u16 = 0x4000;

struct Args {
    server: SocketAddr,
    user: String,
    password: String,
    allocations: usize,
    rate: u64,
    seconds: f64,
    len: usize,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let usage = "usage: loadgen SERVER USER PASSWORD ALLOCATIONS RATE SECONDS LEN";
    let [server, user, password, allocations, rate, seconds, len] = args else {
        return Err(usage.to_owned());
    };
    let num = |what: &str, v: &str| -> Result<u64, String> {
        v.parse::<u64>()
            .map_err(|e| format!("{what} `{v}`: {e}; {usage}"))
    };
    Ok(Args {
        server: server
            .parse()
            .map_err(|e| format!("SERVER `{server}`: {e}; {usage}"))?,
        user: user.clone(),
        password: password.clone(),
        allocations: usize::try_from(num("ALLOCATIONS", allocations)?)
            .map_err(|e| e.to_string())?,
        rate: num("RATE", rate)?,
        seconds: seconds
            .parse()
            .map_err(|e| format!("SECONDS `{seconds}`: {e}; {usage}"))?,
        len: usize::try_from(num("LEN", len)?).map_err(|e| e.to_string())?,
    })
}

/// Transaction ids: distinct per request of this process.
fn tid(n: u64) -> TransactionId {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[8..].copy_from_slice(&std::process::id().to_be_bytes());
    TransactionId::Stun(b)
}

/// Sends `req` and returns the response with the same transaction id (3 tries, 1 s each).
fn exchange(
    sock: &UdpSocket,
    req: &Message,
    key: Option<&IntegrityKey>,
) -> Result<Message, String> {
    let bytes = req.encode(key).map_err(|e| format!("encode: {e:?}"))?;
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        sock.send(&bytes).map_err(|e| format!("send: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let Ok(n) = sock.recv(&mut buf) else { break };
            if let Ok(m) = decode(buf.get(..n).unwrap_or_default())
                && m.transaction_id == req.transaction_id
            {
                return Ok(m);
            }
        }
    }
    Err(format!("no answer to {:?}", req.method))
}

fn error_code(m: &Message) -> Option<u16> {
    m.find(|a| match a {
        Attribute::ErrorCode { code, .. } => Some(*code),
        _ => None,
    })
}

/// Allocates on `sock` and binds `CHANNEL` to `peer`; returns the relayed address.
fn allocate(
    sock: &UdpSocket,
    a: &Args,
    peer: SocketAddr,
    seq: &mut u64,
) -> Result<SocketAddr, String> {
    let mut next = || {
        *seq += 1;
        tid(*seq)
    };
    // RFC 8489 §9.2.3: the first request without credentials learns REALM and NONCE. It
    // carries SOFTWARE, padding it so that a relay that never answers much more than it was
    // sent (no amplification) may send the 401.
    let first = Message::new(Class::Request, Method::ALLOCATE, next())
        .with(Attribute::RequestedTransport(17))
        .with(Attribute::Software(format!(
            "convene-loadgen {}",
            "-".repeat(48)
        )));
    let challenge = exchange(sock, &first, None)?;
    if error_code(&challenge) != Some(401) {
        return Err(format!("expected 401, got {challenge:?}"));
    }
    let realm = challenge
        .find(|x| match x {
            Attribute::Realm(r) => Some(r.clone()),
            _ => None,
        })
        .ok_or("401 without REALM")?;
    let nonce = challenge
        .find(|x| match x {
            Attribute::Nonce(n) => Some(n.clone()),
            _ => None,
        })
        .ok_or("401 without NONCE")?;
    let key = IntegrityKey::long_term(&a.user, &realm, &a.password);
    let signed = |m: Message| {
        m.with(Attribute::Username(a.user.clone()))
            .with(Attribute::Realm(realm.clone()))
            .with(Attribute::Nonce(nonce.clone()))
            .with(Attribute::MessageIntegrity([0; 20]))
    };
    let req = signed(
        Message::new(Class::Request, Method::ALLOCATE, next())
            .with(Attribute::RequestedTransport(17)),
    );
    let resp = exchange(sock, &req, Some(&key))?;
    let relayed = resp
        .find(|x| match x {
            Attribute::XorRelayedAddress(r) => Some(*r),
            _ => None,
        })
        .ok_or_else(|| format!("Allocate failed: {resp:?}"))?;
    let req = signed(
        Message::new(Class::Request, Method::CHANNEL_BIND, next())
            .with(Attribute::ChannelNumber(CHANNEL))
            .with(Attribute::XorPeerAddress(peer)),
    );
    let resp = exchange(sock, &req, Some(&key))?;
    if resp.class != Class::SuccessResponse {
        return Err(format!("ChannelBind failed: {resp:?}"));
    }
    Ok(relayed)
}

fn run(a: &Args) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let at_peer = Arc::new(AtomicU64::new(0));
    let back = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    let mut clients = Vec::new();
    let mut seq = 0u64;
    for _ in 0..a.allocations {
        // One echo peer per allocation, so that neither side's one socket is the bottleneck.
        let peer = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        peer.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let peer_addr = peer.local_addr().map_err(|e| e.to_string())?;
        let client = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        client.connect(a.server).map_err(|e| e.to_string())?;
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        allocate(&client, a, peer_addr, &mut seq)?;
        let (stop_p, count) = (stop.clone(), at_peer.clone());
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop_p.load(Ordering::Relaxed) {
                if let Ok((n, from)) = peer.recv_from(&mut buf) {
                    count.fetch_add(1, Ordering::Relaxed);
                    let _ = peer.send_to(buf.get(..n).unwrap_or_default(), from);
                }
            }
        }));
        let client = Arc::new(client);
        let (stop_c, count, rx) = (stop.clone(), back.clone(), client.clone());
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop_c.load(Ordering::Relaxed) {
                if let Ok(n) = rx.recv(&mut buf)
                    && n >= 4
                    && u16::from_be_bytes([buf[0], buf[1]]) == CHANNEL
                {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        clients.push(client);
    }
    let mut frame = Vec::with_capacity(a.len + 8);
    encode_channel_data(CHANNEL, &vec![0x5a; a.len], true, &mut frame);
    let start = Instant::now();
    let duration = Duration::from_secs_f64(a.seconds);
    let mut sent = 0u64;
    // Paced: by `t` seconds, `rate * t` messages have left, round robin.
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * a.rate as f64) as u64;
        while sent < due {
            let c = &clients[(sent % clients.len() as u64) as usize];
            let _ = c.send(&frame);
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let wall = start.elapsed().as_secs_f64();
    // Let the last echoes come back.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let (p, b) = (
        at_peer.load(Ordering::Relaxed),
        back.load(Ordering::Relaxed),
    );
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * sent.saturating_sub(b) as f64 / sent as f64
    };
    println!(
        "sent={sent} at_peer={p} back={b} relayed={} wall={wall:.2} loss={loss:.3}%",
        p + b
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args).and_then(|a| {
        if a.allocations == 0 {
            return Err("ALLOCATIONS must be at least 1".to_owned());
        }
        run(&a)
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
