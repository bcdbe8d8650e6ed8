//! TLS with rustls: server and client configurations for SIP (RFC 3261 §26.2, RFC 5922),
//! the identity of a mutually authenticated peer, and handshake failures explained in words.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// What a verified peer certificate says about its owner: the input to topology trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Subject common name.
    pub common_name: Option<String>,
    /// DNS names from subjectAltName (RFC 5922 §7.1: SIP domain identity).
    pub dns_names: Vec<String>,
    /// SIP/SIPS URIs from subjectAltName.
    pub uris: Vec<String>,
    /// IP addresses from subjectAltName.
    pub ips: Vec<std::net::IpAddr>,
    /// Whether the certificate allows TLS server authentication (EKU id-kp-serverAuth, or no EKU).
    pub server_auth: bool,
    /// Whether it allows TLS client authentication (EKU id-kp-clientAuth, or no EKU): a
    /// server connecting to another needs it (field article 002).
    pub client_auth: bool,
    /// Certificates the peer sent (end entity first).
    pub chain_len: usize,
    /// Expiry, seconds since the Unix epoch.
    pub not_after: i64,
}

impl PeerIdentity {
    /// Reads the identity from the end-entity certificate of a verified chain.
    pub fn from_chain(chain: &[CertificateDer<'_>]) -> Option<PeerIdentity> {
        let ee = chain.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(ee.as_ref()).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let (mut dns_names, mut uris, mut ips) = (Vec::new(), Vec::new(), Vec::new());
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        dns_names.push(d.to_ascii_lowercase())
                    }
                    x509_parser::extensions::GeneralName::URI(u) => uris.push((*u).to_owned()),
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            ips.push(std::net::IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            ips.push(std::net::IpAddr::from(a));
                        }
                    }
                    _ => {}
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
        Some(PeerIdentity {
            common_name,
            dns_names,
            uris,
            ips,
            server_auth,
            client_auth,
            chain_len: chain.len(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// Whether the certificate names `fqdn` (case-insensitive; a `*.` wildcard covers one label).
    pub fn names(&self, fqdn: &str) -> bool {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        self.dns_names.iter().any(|d| {
            d == &fqdn
                || d.strip_prefix("*.")
                    .is_some_and(|rest| fqdn.split_once('.').is_some_and(|(_, tail)| tail == rest))
        })
    }
}

/// The crypto provider: aws-lc-rs, named explicitly so that no other provider compiled into
/// the process can make the choice ambiguous.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS configuration problem, said plainly.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// rustls refused the certificate or key.
    #[error("the certificate or private key is not usable: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (e.g. no trusted roots).
    #[error("cannot verify client certificates: {0}")]
    Verifier(String),
}

/// A server configuration presenting `chain`/`key`. With `client_roots`, clients that
/// present a certificate must chain to those roots (mutual TLS); clients without one are
/// still accepted (a SIP user agent normally has none) and carry no [`PeerIdentity`].
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let mut cfg = server_builder(client_roots)?.with_single_cert(chain, key)?;
    no_tickets(&mut cfg);
    Ok(Arc::new(cfg))
}

/// The part of a server configuration that decides about client certificates.
fn server_builder(
    client_roots: Option<RootCertStore>,
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsConfigError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    Ok(match client_roots {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsConfigError::Verifier(e.to_string()))?,
        ),
        None => builder.with_no_client_auth(),
    })
}

/// No TLS 1.3 session tickets: SIP connections are long-lived, and some SIP stacks (sipsak
/// 0.9.8 with GnuTLS) cannot read the ticket records sent after the handshake.
fn no_tickets(cfg: &mut ServerConfig) {
    cfg.send_tls13_tickets = 0;
}

/// One certificate the server can present, and the names it is for.
#[derive(Debug)]
pub struct NamedCert {
    /// The certificate chain, end entity first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

/// A server configuration that picks its certificate by the name the client asks for (SNI,
/// RFC 6066 §3), falling back to `default` when the client sends no name or an unknown one
/// (SIP clients often connect by IP address and send no SNI).
pub fn server_config_sni(
    default: NamedCert,
    by_name: Vec<(String, NamedCert)>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = provider();
    let load = |c: NamedCert| -> Result<Arc<rustls::sign::CertifiedKey>, TlsConfigError> {
        Ok(Arc::new(rustls::sign::CertifiedKey::from_der(
            c.chain, c.key, &provider,
        )?))
    };
    let mut names = Vec::new();
    for (name, cert) in by_name {
        names.push((name.to_ascii_lowercase(), load(cert)?));
    }
    let resolver = SniResolver {
        default: load(default)?,
        names,
    };
    let mut cfg = server_builder(client_roots)?.with_cert_resolver(Arc::new(resolver));
    no_tickets(&mut cfg);
    Ok(Arc::new(cfg))
}

/// Picks a certificate by SNI name.
#[derive(Debug)]
struct SniResolver {
    default: Arc<rustls::sign::CertifiedKey>,
    names: Vec<(String, Arc<rustls::sign::CertifiedKey>)>,
}

impl rustls::server::ResolvesServerCert for SniResolver {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let wanted = hello.server_name().map(str::to_ascii_lowercase);
        let hit = wanted.and_then(|w| {
            self.names
                .iter()
                .find(|(n, _)| *n == w)
                .map(|(_, k)| k.clone())
        });
        Some(hit.unwrap_or_else(|| self.default.clone()))
    }
}

/// A client configuration trusting `roots`, presenting `client_cert` for mutual TLS if given.
pub fn client_config(
    roots: RootCertStore,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Rustls)?
        .with_root_certificates(roots);
    let cfg = match client_cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// Turns a failed handshake into words an admin can act on.
pub fn explain_handshake_error(e: &std::io::Error) -> String {
    use rustls::CertificateError as C;
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(C::InvalidPurpose | C::InvalidPurposeContext { .. })) => {
            "the peer's certificate lacks the Extended Key Usage this connection needs (a server acting as TLS client needs \"Client Authentication\"); reissue it with both Server and Client Authentication".into()
        }
        Some(rustls::Error::InvalidCertificate(C::UnknownIssuer)) => {
            "the peer's certificate is not issued by a trusted CA; add its CA to the trusted roots".into()
        }
        Some(rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. })) => "the peer's certificate has expired".into(),
        Some(rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
            format!("the peer's certificate does not name the host we connected to (subjectAltName): {}", inner.map(ToString::to_string).unwrap_or_default())
        }
        Some(rustls::Error::AlertReceived(alert)) => format!("the peer refused the handshake with TLS alert {alert:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}
