//! A real DNS server for the tests: dnsmasq on a free loopback port, serving a zone built
//! from command-line records, logging every query it receives; killed when dropped.

use std::fs;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where dnsmasq lives: `$DNSMASQ`, else the Debian path (package `dnsmasq-base`).
fn dnsmasq_program() -> PathBuf {
    std::env::var_os("DNSMASQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/dnsmasq"))
}

/// A running dnsmasq; killed (by PID) and its log removed on drop.
pub struct Dnsmasq {
    child: Child,
    /// The UDP/TCP address it answers on.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq answering for `*.test` only from `records` (each a dnsmasq option such
    /// as `--srv-host=…`, `--naptr-record=…`, `--host-record=…`); other `.test` names are
    /// NXDOMAIN. Panics with a clear message if dnsmasq is not installed.
    pub fn start(records: &[&str]) -> Self {
        let program = dnsmasq_program();
        assert!(
            Path::new(&program).exists(),
            "{} not found: these tests need a real DNS server; install the Debian package \
             dnsmasq-base (scripts/test does) or set DNSMASQ=/path/to/dnsmasq",
            program.display()
        );
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "sip-dns-dnsmasq-{}-{port}-{attempt}.log",
                std::process::id()
            ));
            let log_file = fs::File::create(&log).expect("create the dnsmasq log file");
            let mut cmd = Command::new(&program);
            cmd.arg(format!("--port={port}"))
                .args([
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-daemon",
                    "--conf-file=/dev/null",
                    "--local=/test/",
                    "--log-queries",
                    "--log-facility=-",
                ])
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log_file));
            let child = cmd.spawn().expect("spawn dnsmasq");
            let mut d = Dnsmasq {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                log,
            };
            match d.wait_ready() {
                Ok(()) => return d,
                Err(e) => last_err = e,
            }
        }
        panic!("dnsmasq did not start: {last_err}");
    }

    /// Waits until the server answers a query, or reports why it did not.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let probe = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        // A minimal DNS query (RFC 1035 §4.1): id 0x5ead, RD, one question `ready.test. A IN`.
        let mut q = vec![0x5e, 0xad, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["ready", "test"] {
            q.push(u8::try_from(label.len()).unwrap());
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited with {status}: {}", self.log_text()));
            }
            probe.send_to(&q, self.addr).map_err(|e| e.to_string())?;
            match probe.recv_from(&mut buf) {
                Ok((n, _)) if n >= 2 && buf[..2] == [0x5e, 0xad] => return Ok(()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                // ICMP port unreachable: not bound yet.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("no answer within 10 s".to_owned())
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The queries dnsmasq received, as `TYPE name`, in arrival order (its `--log-queries`
    /// lines), without the readiness probe.
    pub fn queries_seen(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| {
                let rest = &l[l.find("query[")? + "query[".len()..];
                let (rtype, rest) = rest.split_once("] ")?;
                let name = rest.split_whitespace().next()?;
                (name != "ready.test").then(|| format!("{rtype} {name}"))
            })
            .collect()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

/// A loopback port free for both UDP and TCP at the time of asking.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
