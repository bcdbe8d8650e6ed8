//! `convene ctl turn …`: media relay helpers: REST-style ephemeral TURN credentials (coturn's
//! `use-auth-secret` scheme) and a decoder that explains a captured STUN/TURN/MS-TURN message.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use turn_proto::classify::{Verdict, classify};
use turn_proto::server::rest_password;

/// The TURN verbs.
#[derive(Debug, Subcommand)]
pub enum TurnCommand {
    /// Mint ephemeral TURN credentials: username `<expiry>:<user>`, password
    /// base64(HMAC-SHA1(secret, username)).
    Credentials {
        /// File whose first line is the relay's shared secret (kept off the command line).
        #[arg(long)]
        secret_file: PathBuf,
        /// The user the credentials are for.
        #[arg(long)]
        user: String,
        /// Seconds the credentials stay valid.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
    /// Explain a captured message given as hex (spaces allowed): STUN/TURN/MS-TURN, ChannelData,
    /// or the first bytes of a TCP 443 connection.
    Decode {
        /// The bytes, in hex.
        hex: String,
    },
}

/// Why a TURN verb failed.
#[derive(Debug, thiserror::Error)]
pub enum TurnCtlError {
    /// The secret file cannot be read.
    #[error(
        "{path}: cannot read the shared secret ({source}); pass --secret-file with a readable file"
    )]
    SecretRead {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The secret file is empty.
    #[error(
        "{path}:1:1: the shared secret is empty; put the relay's static-auth-secret on the first line"
    )]
    SecretEmpty {
        /// The file.
        path: String,
    },
    /// The hex argument is not hex.
    #[error("argument `hex`: {0}; give an even number of hex digits, e.g. `0001 0000 2112a442 …`")]
    Hex(String),
}

/// Runs one TURN verb.
pub fn run(cmd: TurnCommand) -> ExitCode {
    let result = match cmd {
        TurnCommand::Credentials {
            secret_file,
            user,
            ttl,
        } => credentials(&secret_file, &user, ttl, unix_now()),
        TurnCommand::Decode { hex } => decode(&hex),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("convene ctl turn: {e}");
            ExitCode::FAILURE
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The credentials text for `user`, valid `ttl` seconds from `now`.
fn credentials(secret_file: &Path, user: &str, ttl: u64, now: u64) -> Result<String, TurnCtlError> {
    let path = secret_file.display().to_string();
    let text = std::fs::read_to_string(secret_file).map_err(|source| TurnCtlError::SecretRead {
        path: path.clone(),
        source,
    })?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(TurnCtlError::SecretEmpty { path });
    }
    let username = format!("{}:{user}", now.saturating_add(ttl));
    let password = rest_password(secret.as_bytes(), &username);
    Ok(format!("username: {username}\npassword: {password}\n"))
}

/// Parses hex digits, ignoring whitespace.
fn parse_hex(hex: &str) -> Result<Vec<u8>, TurnCtlError> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(TurnCtlError::Hex("odd number of digits".into()));
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| TurnCtlError::Hex("not ASCII".into()))?;
            u8::from_str_radix(s, 16).map_err(|_| TurnCtlError::Hex(format!("`{s}` is not hex")))
        })
        .collect()
}

/// Explains the bytes: a decoded message, a ChannelData header, or a 443 classification.
fn decode(hex: &str) -> Result<String, TurnCtlError> {
    let bytes = parse_hex(hex)?;
    let mut out = String::new();
    match turn_proto::decode(&bytes) {
        Ok(m) => {
            out.push_str(&format!(
                "{:?} {:?} method {:#05x}, transaction {:02x?}\n",
                m.dialect(),
                m.class,
                m.method.0,
                m.transaction_id.as_bytes()
            ));
            for a in &m.attributes {
                out.push_str(&format!("  {a:?}\n"));
            }
        }
        Err(stun_error) => match turn_proto::channel::decode_channel_data(&bytes) {
            Ok(cd) => out.push_str(&format!(
                "ChannelData channel {:#06x}, {} data bytes\n",
                cd.channel,
                cd.data.len()
            )),
            Err(_) => {
                out.push_str(&format!("not a STUN message: {stun_error}\n"));
                let verdict = match classify(&bytes) {
                    Verdict::Is(p) => format!("{p:?}"),
                    Verdict::NeedMore => "undecided (more bytes needed)".into(),
                    Verdict::Reject => "unknown (the 443 listener closes it)".into(),
                };
                out.push_str(&format!(
                    "as the first bytes of a TCP 443 connection: {verdict}\n"
                ));
            }
        },
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_rest_scheme() {
        let dir = std::env::temp_dir().join(format!("convene-turn-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "secret\n").unwrap();
        // HMAC-SHA1("secret", "1700000000:alice"), computed independently (python hmac).
        assert_eq!(
            credentials(&file, "alice", 100, 1_699_999_900).unwrap(),
            "username: 1700000000:alice\npassword: d8soP47RbdIKLDUOpnJPVQyq5Ts=\n"
        );
        std::fs::write(&file, "\n").unwrap();
        let e = credentials(&file, "alice", 1, 0).unwrap_err().to_string();
        assert!(e.contains(":1:1: the shared secret is empty"), "{e}");
        let e = credentials(&dir.join("missing"), "a", 1, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the shared secret"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decode_explains_messages_channel_data_and_first_bytes() {
        let out = decode("0001 0000 2112a442 000102030405060708090a0b").unwrap();
        assert!(out.starts_with("Stun Request method 0x001"), "{out}");
        let out = decode("4001 0003 616263 00").unwrap();
        assert_eq!(out, "ChannelData channel 0x4001, 3 data bytes\n");
        let out = decode("474554202f20485454502f312e310d0a").unwrap();
        assert!(out.contains("not a STUN message"), "{out}");
        assert!(out.ends_with("TCP 443 connection: Http\n"), "{out}");
        assert!(matches!(decode("abc"), Err(TurnCtlError::Hex(_))));
        assert!(matches!(decode("zz"), Err(TurnCtlError::Hex(_))));
    }
}
