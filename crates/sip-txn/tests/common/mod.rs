//! Shared helpers: messages, a virtual clock and compact descriptions of what the layer emits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_msg::Message;
use sip_txn::{Event, TimerConfig, TransactionLayer, Transmit, TransportKey, TransportKind, TxnId};

pub fn peer(udp: bool) -> TransportKey {
    let addr: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    TransportKey::new(
        if udp {
            TransportKind::Udp
        } else {
            TransportKind::Tcp
        },
        addr,
    )
}

/// A request with the given method, Via branch, CSeq number, From tag and optional To tag.
pub fn req(method: &str, branch: &str, seq: u32, from_tag: &str, to_tag: Option<&str>) -> Message {
    req_full(
        method,
        "sip:bob@example.com",
        "client.example.com:5060",
        branch,
        seq,
        "call-1@example.com",
        from_tag,
        to_tag,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn req_full(
    method: &str,
    uri: &str,
    sent_by: &str,
    branch: &str,
    seq: u32,
    call_id: &str,
    from_tag: &str,
    to_tag: Option<&str>,
) -> Message {
    let branch = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let text = format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sent_by}{branch}\r\n\
         Via: SIP/2.0/UDP origin.example.com;branch=z9hG4bKorigin\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:proxy.example.com;lr>\r\n\
         From: \"Alice\" <sip:alice@example.com>;tag={from_tag}\r\n\
         To: <sip:bob@example.com>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {seq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).unwrap()
}

pub fn invite(branch: &str) -> Message {
    req("INVITE", branch, 1, "from1", None)
}

pub fn options(branch: &str) -> Message {
    req("OPTIONS", branch, 7, "from1", None)
}

/// A response to `request` with a To tag.
pub fn resp(request: &Message, code: u16) -> Message {
    Message::response_to(request, code, "Reason", Some("totag1"))
}

pub fn resp_tag(request: &Message, code: u16, tag: &str) -> Message {
    Message::response_to(request, code, "Reason", Some(tag))
}

/// One line per transmission: the method or status code, `re` for a retransmission.
pub fn describe_transmit(t: &Transmit<TransportKey>) -> String {
    let what = match t.message.method() {
        Some(m) => m.to_string(),
        None => t.message.status().unwrap().to_string(),
    };
    if t.retransmission {
        format!("{what} re")
    } else {
        what
    }
}

/// One line per event.
pub fn describe_event(e: &Event<TransportKey>) -> String {
    match e {
        Event::Request { request, .. } => format!("Request {}", request.method().unwrap()),
        Event::Cancel { invite, .. } => format!(
            "Cancel {}",
            if invite.is_some() {
                "matched"
            } else {
                "unmatched"
            }
        ),
        Event::MergedRequest { .. } => "Merged".into(),
        Event::Benotify { .. } => "Benotify".into(),
        Event::Ack { invite, .. } => format!(
            "Ack {}",
            if invite.is_some() {
                "matched"
            } else {
                "unmatched"
            }
        ),
        Event::Response { response, .. } => format!("Response {}", response.status().unwrap()),
        Event::UnmatchedResponse { response, .. } => {
            format!("Unmatched {}", response.status().unwrap())
        }
        Event::Timeout { timer, .. } => format!("Timeout {timer:?}"),
        Event::TimerC { provisional, .. } => format!("TimerC {provisional}"),
        Event::TransportError { .. } => "TransportError".into(),
        Event::Terminated { .. } => "Terminated".into(),
    }
}

/// A layer on a virtual clock: `t0` is an arbitrary origin, `now` only moves by hand.
pub struct Harness {
    pub layer: TransactionLayer<TransportKey>,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(TimerConfig::default())
    }

    pub fn with(config: TimerConfig) -> Self {
        let t0 = Instant::now();
        Harness {
            layer: TransactionLayer::new(config),
            t0,
            now: t0,
        }
    }

    /// Milliseconds since `t0`.
    pub fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.t0).as_millis()).unwrap()
    }

    /// The next timeout in milliseconds since `t0`.
    pub fn next_ms(&self) -> Option<u64> {
        self.layer.poll_timeout().map(|t| self.ms(t))
    }

    /// Advances the clock to the next timeout and fires it; returns its time (ms since t0).
    pub fn fire(&mut self) -> Option<u64> {
        let at = self.layer.poll_timeout()?;
        assert!(at >= self.now, "a timer went backwards");
        self.now = at;
        self.layer.handle_timeout(at);
        Some(self.ms(at))
    }

    /// Advances the clock to `ms` since t0 and fires what is due.
    pub fn advance_to(&mut self, ms: u64) {
        self.now = self.t0 + Duration::from_millis(ms);
        self.layer.handle_timeout(self.now);
    }

    pub fn transmits(&mut self) -> Vec<Transmit<TransportKey>> {
        std::iter::from_fn(|| self.layer.poll_transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<Event<TransportKey>> {
        std::iter::from_fn(|| self.layer.poll_event()).collect()
    }

    /// Drains both queues as descriptions.
    pub fn drain(&mut self) -> (Vec<String>, Vec<String>) {
        let t = self.transmits().iter().map(describe_transmit).collect();
        let e = self.events().iter().map(describe_event).collect();
        (t, e)
    }

    /// Receives a message from `peer(udp)` now.
    pub fn recv(&mut self, msg: Message, udp: bool) {
        self.layer.handle_message(self.now, msg, peer(udp)).unwrap();
    }

    /// Receives a request and returns the server transaction it created.
    pub fn recv_new(&mut self, msg: Message, udp: bool) -> TxnId {
        self.recv(msg, udp);
        let events = self.events();
        events
            .iter()
            .find_map(Event::txn)
            .expect("a new server transaction")
    }
}
