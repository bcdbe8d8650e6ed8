//! Development certificates: on first start without configured certificates, the server
//! makes a private CA and a certificate for its FQDN (both Server and Client Authentication
//! EKUs, so it can be a TLS client to other servers: field article 002) and keeps them in
//! its data directory, so they survive restarts and a client can trust the CA file.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the dev PKI lives inside the data directory.
pub const DIR: &str = "tls";

/// The files of the dev PKI.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// The CA certificate (PEM): give it to clients as their trusted root.
    pub ca_cert: PathBuf,
    /// The server certificate chain (PEM: leaf then CA).
    pub cert: PathBuf,
    /// The server's private key (PEM, PKCS#8, mode 0600).
    pub key: PathBuf,
}

/// A problem with the dev certificates, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM of the expected kind.
    #[error("{path}: {what}; delete the file to have a new one made on the next start")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rcgen could not make a certificate.
    #[error("cannot make the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CertError + '_ {
    move |source| CertError::Io {
        path: path.to_owned(),
        source,
    }
}

impl DevPki {
    /// The dev PKI in `data_dir`, made now if it does not exist yet.
    pub fn ensure(data_dir: &Path, fqdn: &str) -> Result<(DevPki, bool), CertError> {
        let dir = data_dir.join(DIR);
        let pki = DevPki {
            ca_cert: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        };
        if pki.cert.exists() && pki.key.exists() && pki.ca_cert.exists() {
            return Ok((pki, false));
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let ca = DevCa::new()?;

        let mut leaf = CertificateParams::new(vec![fqdn.to_string(), "localhost".to_string()])?;
        leaf.subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        leaf.subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        leaf.distinguished_name.push(DnType::CommonName, fqdn);
        leaf.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &ca.issuer)?;

        write(&pki.ca_cert, ca.cert_pem.as_bytes(), false)?;
        write(
            &pki.cert,
            format!("{}{}", cert.pem(), ca.cert_pem).as_bytes(),
            false,
        )?;
        write(&pki.key, key.serialize_pem().as_bytes(), true)?;
        Ok((pki, true))
    }

    /// Reads the chain, key and CA back for rustls.
    pub fn load(
        &self,
    ) -> Result<
        (
            Vec<CertificateDer<'static>>,
            PrivateKeyDer<'static>,
            CertificateDer<'static>,
        ),
        CertError,
    > {
        let chain = read_certs(&self.cert)?;
        let ca = read_certs(&self.ca_cert)?
            .into_iter()
            .next()
            .ok_or_else(|| CertError::Pem {
                path: self.ca_cert.clone(),
                what: "no CERTIFICATE block".into(),
            })?;
        let key_pem = fs::read(&self.key).map_err(io(&self.key))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| CertError::Pem {
            path: self.key.clone(),
            what: format!("no usable private key ({e})"),
        })?;
        Ok((chain, key, ca))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let pem = fs::read(path).map_err(io(path))?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(CertError::Pem {
            path: path.to_owned(),
            what: "no CERTIFICATE block".into(),
        }),
        Err(e) => Err(CertError::Pem {
            path: path.to_owned(),
            what: format!("unreadable PEM ({e})"),
        }),
    }
}

fn write(path: &Path, data: &[u8], secret: bool) -> Result<(), CertError> {
    write_file(path, data, secret).map_err(io(path))
}

/// Writes a PEM file; a `secret` one (a private key) is made readable by its owner only (0600).
pub fn write_file(path: &Path, data: &[u8], secret: bool) -> std::io::Result<()> {
    fs::write(path, data)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

/// A new development CA: what `convene up` makes on first start and `convene ctl certs init`
/// makes for a topology.
pub struct DevCa {
    /// The CA certificate (PEM).
    pub cert_pem: String,
    /// The CA's private key (PEM, PKCS#8).
    pub key_pem: String,
    /// Signs certificates with the CA's key.
    pub issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl DevCa {
    /// A self-signed CA named "Convene development CA", for signing certificates only.
    pub fn new() -> Result<DevCa, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, "Convene development CA");
        ca.distinguished_name
            .push(DnType::OrganizationName, "Convene (development only)");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = ca.self_signed(&key)?;
        Ok(DevCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(ca, key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, made) = DevPki::ensure(dir.path(), "fe.example.test").unwrap();
        assert!(made);
        let (chain, _key, ca) = pki.load().unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca);
        let id = net::PeerIdentity::from_chain(&chain).unwrap();
        assert!(id.names("fe.example.test"));
        assert!(
            id.server_auth && id.client_auth,
            "both EKUs (field article 002)"
        );
        let before = std::fs::read(&pki.cert).unwrap();
        let (_, made_again) = DevPki::ensure(dir.path(), "fe.example.test").unwrap();
        assert!(!made_again);
        assert_eq!(std::fs::read(&pki.cert).unwrap(), before);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&pki.key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_damaged_key_file_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, _) = DevPki::ensure(dir.path(), "fe.example.test").unwrap();
        std::fs::write(&pki.key, "not a key").unwrap();
        let e = pki.load().unwrap_err().to_string();
        assert!(
            e.contains("server.key") && e.contains("delete the file"),
            "{e}"
        );
    }
}
