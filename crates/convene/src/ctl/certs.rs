//! `convene ctl certs init|check`: make a development CA and one certificate per pool of a
//! topology, and check certificate files against what the topology needs. The file I/O and
//! X.509 parsing live here; what a certificate must hold is judged by the `topology` crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use rustls::client::danger::ServerCertVerifier as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use topology::{CertFacts, Chain, Topology, check_certificate, required_names};

/// `convene ctl certs …`.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make a development CA and one certificate per pool that names a certificate: the
    /// pool FQDN, member FQDNs and sip.<domain> where a role needs them, with both Server
    /// and Client Authentication EKUs. Writes ca.pem, ca.key, <name>.pem, <name>.key.
    Init(InitArgs),
    /// Check each pool's certificate: names the topology needs, validity, chain to ca.pem,
    /// both EKUs. Exit 0 when all are fine, 1 with each problem and its fix.
    Check(CheckArgs),
}

/// Arguments of `certs init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The topology file.
    #[arg(long, value_name = "FILE")]
    topology: PathBuf,
    /// Directory to write the CA and certificates to (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace an existing CA and certificates in DIR.
    #[arg(long)]
    force: bool,
    /// Make this pool's certificate with Server Authentication only, to reproduce a
    /// certificate that other servers refuse as a TLS client (field article 002).
    #[arg(long, value_name = "POOL_FQDN")]
    server_auth_only: Vec<String>,
}

/// Arguments of `certs check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The topology file.
    #[arg(long, value_name = "FILE")]
    topology: PathBuf,
    /// Directory holding ca.pem and <name>.pem / <name>.key of each pool.
    #[arg(long, value_name = "DIR")]
    certs: PathBuf,
}

/// Runs `convene ctl certs …`.
pub fn run(cmd: CertsCommand) -> ExitCode {
    match cmd {
        CertsCommand::Init(a) => init(&a),
        CertsCommand::Check(a) => check(&a),
    }
}

fn init(a: &InitArgs) -> ExitCode {
    let t = match super::topology::load(Some(&a.topology)) {
        Ok((t, _)) => t,
        Err(code) => return code,
    };
    for fqdn in &a.server_auth_only {
        if t.pool(fqdn).is_none_or(|p| p.certificate.is_none()) {
            eprintln!(
                "error: --server-auth-only {fqdn}: no pool with that FQDN and a certificate in the topology"
            );
            return ExitCode::from(2);
        }
    }
    let ca_path = a.out.join("ca.pem");
    if ca_path.exists() && !a.force {
        eprintln!(
            "error: {} exists; use --force to replace the CA and every certificate in {}",
            ca_path.display(),
            a.out.display()
        );
        return ExitCode::from(2);
    }
    match make(&t, a) {
        Ok(lines) => {
            super::edge::emit(&lines);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
enum CertsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn write(path: &Path, data: &str, secret: bool) -> Result<(), CertsError> {
    server::devcert::write_file(path, data.as_bytes(), secret).map_err(|source| CertsError::Io {
        path: path.to_owned(),
        source,
    })
}

fn make(t: &Topology, a: &InitArgs) -> Result<String, CertsError> {
    std::fs::create_dir_all(&a.out).map_err(|source| CertsError::Io {
        path: a.out.clone(),
        source,
    })?;
    let ca = server::devcert::DevCa::new()?;
    let ca_pem = ca.cert_pem.clone();
    write(&a.out.join("ca.pem"), &ca_pem, false)?;
    write(&a.out.join("ca.key"), &ca.key_pem, true)?;
    let issuer = ca.issuer;
    let mut out = format!(
        "{}: development CA (ca.key is secret)\n",
        a.out.join("ca.pem").display()
    );
    for pool in &t.pools {
        let fqdn = pool.fqdn.get_ref();
        let Some(name) = &pool.certificate else {
            out.push_str(&format!(
                "{fqdn}: no certificate in the topology (the server holds its own): skipped\n"
            ));
            continue;
        };
        let names = required_names(t, pool);
        let mut leaf = CertificateParams::new(names.clone())?;
        leaf.distinguished_name
            .push(DnType::CommonName, fqdn.as_str());
        let server_only = a
            .server_auth_only
            .iter()
            .any(|f| f.eq_ignore_ascii_case(fqdn));
        // Both EKUs: a server is a TLS client when it connects to another (seed 002).
        leaf.extended_key_usages = if server_only {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        } else {
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ]
        };
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &issuer)?;
        let cert_path = a.out.join(format!("{}.pem", name.get_ref()));
        write(&cert_path, &format!("{}{ca_pem}", cert.pem()), false)?;
        write(
            &a.out.join(format!("{}.key", name.get_ref())),
            &key.serialize_pem(),
            true,
        )?;
        out.push_str(&format!(
            "{}: {fqdn}: names {}; EKU {}\n",
            cert_path.display(),
            names.join(", "),
            if server_only {
                "Server Authentication only"
            } else {
                "Server and Client Authentication"
            }
        ));
    }
    Ok(out)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err("no CERTIFICATE block".to_owned()),
        Err(e) => Err(format!("unreadable PEM ({e})")),
    }
}

// The facts the topology crate judges, read from the end-entity certificate.
fn facts(
    chain: &[CertificateDer<'static>],
    ca: &CertificateDer<'static>,
    fqdn: &str,
) -> Result<CertFacts, String> {
    let ee = chain.first().ok_or("no certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(ee.as_ref())
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    let mut dns_names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                dns_names.push(d.to_ascii_lowercase());
            }
        }
    }
    let (server_auth, client_auth) = match cert.extended_key_usage() {
        Ok(Some(eku)) => (
            eku.value.any || eku.value.server_auth,
            eku.value.any || eku.value.client_auth,
        ),
        // RFC 5280 §4.2.1.12: without the extension the key may be used for any purpose.
        _ => (true, true),
    };
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    Ok(CertFacts {
        chain: chain_to_ca(chain, ca, fqdn, not_before),
        dns_names,
        server_auth,
        client_auth,
        not_before,
        not_after,
    })
}

// Verifies the signature chain to the CA with webpki, at a time inside the certificate's
// validity so that expiry (reported on its own) does not hide the chain's state. The
// server verifier checks the Server Authentication EKU on the way; a certificate without it
// is tried as a client certificate instead.
fn chain_to_ca(
    chain: &[CertificateDer<'static>],
    ca: &CertificateDer<'static>,
    fqdn: &str,
    not_before: i64,
) -> Chain {
    use rustls::{CertificateError, Error};
    let Some((ee, intermediates)) = chain.split_first() else {
        return Chain::Untrusted("no certificate".to_owned());
    };
    let mut roots = rustls::RootCertStore::empty();
    if let Err(e) = roots.add(ca.clone()) {
        return Chain::Untrusted(format!("ca.pem is not a usable CA certificate ({e})"));
    }
    let roots = Arc::new(roots);
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(not_before.saturating_add(60)).unwrap_or(0),
    ));
    let Ok(name) = ServerName::try_from(fqdn.to_owned()) else {
        return Chain::Untrusted(format!("{fqdn} is not a server name"));
    };
    let judge = |r: Result<(), Error>| match r {
        Ok(()) => Some(Chain::Verified),
        // Found after the chain was verified: reported by the name check.
        Err(Error::InvalidCertificate(CertificateError::NotValidForName))
        | Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            Some(Chain::Verified)
        }
        Err(Error::InvalidCertificate(CertificateError::InvalidPurpose))
        | Err(Error::InvalidCertificate(CertificateError::InvalidPurposeContext { .. })) => None,
        Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => Some(Chain::Untrusted(
            "it was not issued by the CA in ca.pem".to_owned(),
        )),
        Err(Error::InvalidCertificate(CertificateError::BadSignature)) => Some(Chain::Untrusted(
            "its signature does not verify with the CA's key".to_owned(),
        )),
        Err(e) => Some(Chain::Untrusted(e.to_string())),
    };
    let server = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        net::tls::provider(),
    )
    .build()
    .map_err(|e| Error::General(e.to_string()))
    .and_then(|v| {
        v.verify_server_cert(ee, intermediates, &name, &[], at)
            .map(|_| ())
    });
    if let Some(c) = judge(server) {
        return c;
    }
    let client =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots, net::tls::provider())
            .build()
            .map_err(|e| Error::General(e.to_string()))
            .and_then(|v| v.verify_client_cert(ee, intermediates, at).map(|_| ()));
    judge(client).unwrap_or_else(|| {
        Chain::Unchecked("the certificate allows neither TLS server nor client use".to_owned())
    })
}

fn check(a: &CheckArgs) -> ExitCode {
    let t = match super::topology::load(Some(&a.topology)) {
        Ok((t, _)) => t,
        Err(code) => return code,
    };
    let ca_path = a.certs.join("ca.pem");
    let ca = match read_certs(&ca_path).and_then(|c| {
        c.into_iter()
            .next()
            .ok_or_else(|| "no CERTIFICATE block".to_owned())
    }) {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{}: {e}; fix: make the certificates with `convene ctl certs init --topology {} --out {}`",
                ca_path.display(),
                a.topology.display(),
                a.certs.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut bad = 0usize;
    let mut out = String::new();
    for pool in &t.pools {
        let fqdn = pool.fqdn.get_ref();
        let Some(name) = &pool.certificate else {
            continue;
        };
        let path = a.certs.join(format!("{}.pem", name.get_ref()));
        let shown = path.display();
        let f = match read_certs(&path).and_then(|c| facts(&c, &ca, fqdn)) {
            Ok(f) => f,
            Err(e) => {
                bad += 1;
                out.push_str(&format!(
                    "{shown}: {fqdn}: {e}; fix: make it with `convene ctl certs init`\n"
                ));
                continue;
            }
        };
        let mut problems: Vec<(String, String)> = check_certificate(&t, pool, &f, now)
            .into_iter()
            .map(|p| (p.to_string(), p.fix()))
            .collect();
        let key = a.certs.join(format!("{}.key", name.get_ref()));
        match std::fs::metadata(&key) {
            Err(e) => problems.push((
                format!("the key file {} cannot be read: {e}", key.display()),
                "put the certificate's private key next to it, or make both with `convene ctl certs init`".to_owned(),
            )),
            #[cfg(unix)]
            Ok(m) => {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    problems.push((
                        format!("the key file {} is readable by others (mode {mode:o})", key.display()),
                        format!("chmod 600 {}", key.display()),
                    ));
                }
            }
            #[cfg(not(unix))]
            Ok(_) => {}
        }
        if problems.is_empty() {
            out.push_str(&format!(
                "{shown}: {fqdn}: ok (names {}; Server and Client Authentication; chains to ca.pem)\n",
                f.dns_names.join(", ")
            ));
        } else {
            bad += 1;
            for (what, fix) in problems {
                out.push_str(&format!("{shown}: {fqdn}: {what}; fix: {fix}\n"));
            }
        }
    }
    super::edge::emit(&out);
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{bad} certificate(s) need attention");
        ExitCode::FAILURE
    }
}
