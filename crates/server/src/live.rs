//! Topology changes made at run time (`convene ctl static-route|trusted-app-pool|trusted-app
//! add`): kept in the store beside the topology file, applied to the running server at once, and
//! read again at start-up. The file stays the admin's; these additions are rendered as TOML
//! after it and the whole is validated as one topology, so an addition that would make the
//! topology invalid (a route to nowhere, a duplicate pool) is refused with the checker's words.

use serde::{Deserialize, Serialize};

/// The store metadata key of the additions.
pub const META_KEY: &str = "topology.additions";

/// A static route added at run time (`New-CsStaticRoute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteAdd {
    /// Domain matched, with its subdomains.
    pub match_uri: String,
    /// Next hop: FQDN (TLS: the name its certificate carries) or IP.
    pub next_hop: String,
    /// Next hop port.
    pub port: u16,
    /// `tcp` or `tls`.
    pub transport: String,
    /// The IP to connect to for an FQDN next hop.
    #[serde(default)]
    pub address: Option<String>,
}

/// A trusted application pool added at run time (`New-CsTrustedApplicationPool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAdd {
    /// The pool FQDN its certificate carries.
    pub fqdn: String,
    /// Its site.
    pub site: String,
    /// The registrar pool it belongs to.
    pub registrar: String,
}

/// A trusted application added at run time (`New-CsTrustedApplication`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAdd {
    /// Application id.
    pub id: String,
    /// Its trusted application pool.
    pub pool: String,
    /// The port its pool's certificates are accepted on.
    pub port: u16,
}

/// Everything added at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Additions {
    /// Static routes.
    #[serde(default)]
    pub static_routes: Vec<RouteAdd>,
    /// Trusted application pools.
    #[serde(default)]
    pub pools: Vec<PoolAdd>,
    /// Trusted applications.
    #[serde(default)]
    pub applications: Vec<AppAdd>,
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

impl Additions {
    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.static_routes.is_empty() && self.pools.is_empty() && self.applications.is_empty()
    }

    /// The additions as topology TOML, to follow the file's text.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for p in &self.pools {
            out.push_str(&format!(
                "\n[[pool]]\nfqdn = {}\nsite = {}\nroles = [\"trusted-application\"]\nregistrar = {}\ncertificate = {}\n",
                quoted(&p.fqdn),
                quoted(&p.site),
                quoted(&p.registrar),
                quoted(&p.fqdn)
            ));
        }
        for a in &self.applications {
            out.push_str(&format!(
                "\n[[trusted_application]]\nid = {}\npool = {}\nport = {}\n",
                quoted(&a.id),
                quoted(&a.pool),
                a.port
            ));
        }
        for r in &self.static_routes {
            out.push_str(&format!(
                "\n[[static_route]]\nmatch_uri = {}\nnext_hop = {}\nport = {}\ntransport = {}\n",
                quoted(&r.match_uri),
                quoted(&r.next_hop),
                r.port,
                quoted(&r.transport)
            ));
            if let Some(a) = &r.address {
                out.push_str(&format!("address = {}\n", quoted(a)));
            }
        }
        out
    }

    /// The topology text: the file's, then the additions under a comment saying where they
    /// come from.
    pub fn apply_to(&self, file_text: &str) -> String {
        if self.is_empty() {
            return file_text.to_owned();
        }
        format!(
            "{file_text}\n\n# --- added at run time with `convene ctl` (kept in the store) ---\n{}",
            self.to_toml()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_render_as_a_valid_topology_after_the_file() {
        let a = Additions {
            static_routes: vec![RouteAdd {
                match_uri: "partner.test".into(),
                next_hop: "sip.partner.test".into(),
                port: 5061,
                transport: "tls".into(),
                address: Some("127.0.0.1".into()),
            }],
            pools: vec![PoolAdd {
                fqdn: "apps.example.test".into(),
                site: "HQ".into(),
                registrar: "fe.example.test".into(),
            }],
            applications: vec![AppAdd {
                id: "bot".into(),
                pool: "apps.example.test".into(),
                port: 5062,
            }],
        };
        let text = a.apply_to(crate::DEMO_TOPOLOGY);
        let t = topology::Topology::parse(&text, "demo + additions").unwrap();
        assert_eq!(t.static_routes.len(), 1);
        assert!(t.pool("apps.example.test").is_some());
        assert_eq!(t.trusted_applications.len(), 1);
    }

    #[test]
    fn values_are_quoted_as_toml() {
        let a = Additions {
            pools: vec![PoolAdd {
                fqdn: "x\"y".into(),
                site: "HQ".into(),
                registrar: "fe.example.test".into(),
            }],
            ..Additions::default()
        };
        let v: toml::Value = toml::from_str(&a.to_toml()).unwrap();
        assert_eq!(v["pool"][0]["fqdn"].as_str(), Some("x\"y"));
    }
}
