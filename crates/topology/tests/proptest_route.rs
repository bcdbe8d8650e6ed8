//! Static-route matching against a brute-force reading of the rule: the route returned
//! covers the host (equal or parent domain), and no route covering it is more specific;
//! `None` only when no route covers it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use topology::match_route;

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "eu", "tomt", "local", "test"]).prop_map(str::to_owned)
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

proptest! {
    #[test]
    fn most_specific_covering_route_wins(
        matches in prop::collection::vec(domain(), 0..6),
        host in domain(),
    ) {
        let mut text = String::new();
        for m in &matches {
            text.push_str(&format!(
                "[[static_route]]\nmatch_uri = \"{m}\"\nnext_hop = \"gw.partner.example\"\nport = 5061\ntransport = \"tls\"\n"
            ));
        }
        // Validation would refuse duplicates and a missing front end; matching needs only
        // the routes, so read them without it.
        #[derive(serde::Deserialize)]
        struct Routes {
            #[serde(default)]
            static_route: Vec<topology::StaticRouteConfig>,
        }
        let routes: Routes = toml::from_str(&text).unwrap();
        let covers = |m: &str| host == m || host.ends_with(&format!(".{m}"));
        let best = matches
            .iter()
            .filter(|m| covers(m))
            .map(|m| m.split('.').count())
            .max();
        match match_route(&routes.static_route, &host) {
            None => prop_assert_eq!(best, None),
            Some(r) => {
                let m = r.route.match_uri.get_ref();
                prop_assert!(covers(m));
                prop_assert_eq!(Some(m.split('.').count()), best);
                prop_assert_eq!(r.exact, m == &host);
                // The first of equally specific routes.
                let first = matches.iter().position(|x| covers(x) && x.split('.').count() == m.split('.').count());
                prop_assert_eq!(Some(r.index), first);
            }
        }
    }
}
