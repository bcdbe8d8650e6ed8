//! Static routes ([MS-Docs:New-CsStaticRoute]): a request whose Request-URI host is a route's
//! `match_uri` domain, or a subdomain of it, goes to the route's next hop before any DNS
//! lookup (RFC 3263 is used only when no route matches). The most specific route wins.

use crate::model::StaticRouteConfig;
use crate::validate::in_domain;

/// The static route a host matched, for routing and for the decision trace.
#[derive(Debug, Clone)]
pub struct RouteMatch<'a> {
    /// Index of the route in `[[static_route]]` (file order).
    pub index: usize,
    /// The route.
    pub route: &'a StaticRouteConfig,
    /// Whether the host is the match_uri itself (false: a subdomain of it).
    pub exact: bool,
}

impl RouteMatch<'_> {
    /// One line for the decision trace: which route matched and where it sends the request.
    pub fn explain(&self, host: &str) -> String {
        format!(
            "static_route[{}] match_uri `{}` matches `{host}`{}: next hop {}:{} over {}{}",
            self.index,
            self.route.match_uri.get_ref(),
            if self.exact { "" } else { " (subdomain)" },
            self.route.next_hop.get_ref(),
            self.route.port.get_ref(),
            self.route.transport,
            self.route
                .address
                .as_ref()
                .map(|a| format!(" at address {}", a.get_ref()))
                .unwrap_or_default(),
        )
    }
}

/// The route for `host` (a Request-URI host, no port): among the routes whose `match_uri`
/// is `host` or a parent domain of it, the one with the most labels; on a tie, the first in
/// the file. `None`: no static route applies, resolve with DNS.
pub fn match_route<'a>(routes: &'a [StaticRouteConfig], host: &str) -> Option<RouteMatch<'a>> {
    let host = host.trim_end_matches('.');
    let mut best: Option<(usize, RouteMatch<'a>)> = None;
    for (index, route) in routes.iter().enumerate() {
        let m = route.match_uri.get_ref().trim_end_matches('.');
        if !in_domain(host, m) {
            continue;
        }
        let labels = m.split('.').count();
        if best.as_ref().is_none_or(|(l, _)| labels > *l) {
            best = Some((
                labels,
                RouteMatch {
                    index,
                    route,
                    exact: host.eq_ignore_ascii_case(m),
                },
            ));
        }
    }
    best.map(|(_, m)| m)
}
