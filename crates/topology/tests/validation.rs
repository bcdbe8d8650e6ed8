//! Table-driven validation: one TOML fixture per problem, each expecting the exact
//! file:line:column, the field, and words of the problem and of the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use topology::{ConfigError, Topology};

mod support;
use support::MIN;

struct Case {
    name: &'static str,
    text: String,
    line: usize,
    column: usize,
    field: &'static str,
    problem: &'static str,
    fix: &'static str,
}

fn case(
    name: &'static str,
    text: String,
    (line, column): (usize, usize),
    field: &'static str,
    problem: &'static str,
    fix: &'static str,
) -> Case {
    Case {
        name,
        text,
        line,
        column,
        field,
        problem,
        fix,
    }
}

fn plus(extra: &str) -> String {
    format!("{MIN}{extra}")
}

fn errors(text: &str) -> Vec<ConfigError> {
    match Topology::parse(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

#[test]
fn minimal_topology_is_valid() {
    assert_eq!(errors(MIN), Vec::new());
}

#[test]
fn each_problem_is_located_named_and_fixed() {
    let cases = vec![
        case(
            "unknown key in a pool",
            plus("colour = \"red\"\n"),
            (10, 1),
            "pool[0].colour",
            "unknown field `colour`",
            "remove the key or correct its spelling",
        ),
        case(
            "unknown top-level table",
            plus("[[pools]]\nfqdn = \"x.example.test\"\n"),
            (10, 3),
            "pools[0]",
            "unknown field `pools`",
            "remove the key or correct its spelling",
        ),
        case(
            "missing key",
            plus("[[pool]]\nfqdn = \"b.example.test\"\nroles = [\"edge\"]\ncertificate = \"b\"\n"),
            (10, 1),
            "pool[1]",
            "missing field `site`",
            "add `site = …` to this table",
        ),
        case(
            "unknown role",
            plus("[[pool]]\nfqdn = \"b.example.test\"\nsite = \"HQ\"\nroles = [\"frontend\"]\n"),
            (13, 10),
            "pool[1].roles",
            "unknown variant `frontend`",
            "use one of the values listed",
        ),
        case(
            "two pools with one FQDN",
            plus(
                "[[pool]]\nfqdn = \"FE.example.test\"\nsite = \"HQ\"\nroles = [\"edge\"]\ncertificate = \"x\"\n",
            ),
            (11, 8),
            "pool[1].fqdn",
            "two pools have the FQDN `FE.example.test` (the other is pool[0] at line 6:8)",
            "give each pool its own FQDN",
        ),
        case(
            "pool FQDN that is another pool's machine",
            plus(
                "machines = [\"m1.example.test\"]\n[[pool]]\nfqdn = \"m1.example.test\"\nsite = \"HQ\"\nroles = [\"edge\"]\ncertificate = \"x\"\n",
            ),
            (12, 8),
            "pool[1].fqdn",
            "`m1.example.test` is already the name of a machine: pool[0].machines[0] at line 10:13",
            "give each pool its own FQDN",
        ),
        case(
            "pool FQDN that is not an FQDN",
            MIN.replace("fqdn = \"fe.example.test\"", "fqdn = \"fe\""),
            (6, 8),
            "pool[0].fqdn",
            "\"fe\" is not an FQDN",
            "write a fully qualified domain name",
        ),
        case(
            "site not defined",
            MIN.replace("site = \"HQ\"", "site = \"Branch\""),
            (7, 8),
            "pool[0].site",
            "site `Branch` is not defined (known: HQ)",
            "add a [[site]] with that name",
        ),
        case(
            "role on a pool without a certificate",
            MIN.replace("certificate = \"fe.example.test\"\n", ""),
            (8, 10),
            "pool[0].roles",
            "pool `fe.example.test` runs role front-end but has no certificate",
            "add certificate = \"fe.example.test\" to the pool and make the files with `convene ctl certs init`",
        ),
        case(
            "port used twice on one pool",
            MIN.replace(
                "roles = [\"front-end\"]",
                "roles = [\"front-end\", \"edge\"]",
            ) + "ports = { edge = 5061 }\n",
            (10, 18),
            "pool[0].ports.edge",
            "port 5061 of role edge is already used by role front-end on this pool",
            "give role edge a port of its own",
        ),
        case(
            "port for a role the pool does not run",
            plus("ports = { mediation = 5070 }\n"),
            (10, 23),
            "pool[0].ports.mediation",
            "a port is given for role mediation, which the pool does not run",
            "remove the port or add \"mediation\" to roles",
        ),
        case(
            "trusted application on a pool that is not a trusted-application pool",
            plus(
                "[[trusted_application]]\nid = \"cups\"\npool = \"fe.example.test\"\nport = 5062\n",
            ),
            (12, 8),
            "trusted_application[0].pool",
            "pool `fe.example.test` is not a trusted-application pool",
            "name a pool with roles = [\"trusted-application\"]",
        ),
        case(
            "trusted application on a pool that does not exist",
            plus(
                "[[trusted_application]]\nid = \"cups\"\npool = \"cups.partner.test\"\nport = 5062\n",
            ),
            (12, 8),
            "trusted_application[0].pool",
            "pool `cups.partner.test` is not defined (known: fe.example.test)",
            "add a [[pool]] with roles = [\"trusted-application\"] for it",
        ),
        case(
            "trusted application port that is the registrar's front-end port",
            plus(
                "[[pool]]\nfqdn = \"cups.partner.test\"\nsite = \"HQ\"\nroles = [\"trusted-application\"]\nregistrar = \"fe.example.test\"\n[[trusted_application]]\nid = \"cups\"\npool = \"cups.partner.test\"\nport = 5061\n",
            ),
            (18, 8),
            "trusted_application[0].port",
            "port 5061 is also the front-end port of registrar pool `fe.example.test`",
            "choose a port no role of `fe.example.test` listens on",
        ),
        case(
            "trusted application pool without registrar",
            plus(
                "[[pool]]\nfqdn = \"cups.partner.test\"\nsite = \"HQ\"\nroles = [\"trusted-application\"]\n",
            ),
            (11, 8),
            "pool[1].registrar",
            "trusted application pool `cups.partner.test` has no registrar",
            "add registrar = ",
        ),
        case(
            "trusted-application setting on a Convene pool",
            plus("treat_as_authenticated = false\n"),
            (10, 26),
            "pool[0].treat_as_authenticated",
            "treat_as_authenticated applies only to trusted-application pools",
            "remove treat_as_authenticated",
        ),
        case(
            "static route whose MatchUri is our own domain",
            plus(
                "[[static_route]]\nmatch_uri = \"Example.test\"\nnext_hop = \"gw.partner.test\"\nport = 5061\ntransport = \"tls\"\n",
            ),
            (11, 13),
            "static_route[0].match_uri",
            "`Example.test` is one of our own SIP domains",
            "route only other domains",
        ),
        case(
            "static route whose MatchUri covers our domain",
            plus(
                "[[static_route]]\nmatch_uri = \"test\"\nnext_hop = \"gw.partner.test\"\nport = 5061\ntransport = \"tls\"\n",
            ),
            (11, 13),
            "static_route[0].match_uri",
            "`test` covers our own SIP domain `example.test`",
            "route only other domains",
        ),
        case(
            "TLS static route to an IP address",
            plus(
                "[[static_route]]\nmatch_uri = \"partner.test\"\nnext_hop = \"192.0.2.7\"\nport = 5061\ntransport = \"tls\"\n",
            ),
            (12, 12),
            "static_route[0].next_hop",
            "a TLS route needs the FQDN its next hop's certificate names, not the address 192.0.2.7",
            "use transport = \"tcp\"",
        ),
        case(
            "static route address that is not an IP address",
            plus(
                "[[static_route]]\nmatch_uri = \"partner.test\"\nnext_hop = \"gw.partner.test\"\naddress = \"192.0.2.7:5061\"\nport = 5061\ntransport = \"tls\"\n",
            ),
            (13, 11),
            "static_route[0].address",
            "\"192.0.2.7:5061\" is not an IP address",
            "no port: that is `port`",
        ),
        case(
            "static route address beside an IP next hop",
            plus(
                "[[static_route]]\nmatch_uri = \"partner.test\"\nnext_hop = \"192.0.2.7\"\naddress = \"192.0.2.8\"\nport = 5060\ntransport = \"tcp\"\n",
            ),
            (13, 11),
            "static_route[0].address",
            "next_hop 192.0.2.7 is already an address",
            "remove address",
        ),
        case(
            "static route to a host of our domain that is no pool",
            plus(
                "[[static_route]]\nmatch_uri = \"partner.test\"\nnext_hop = \"gw.example.test\"\nport = 5061\ntransport = \"tls\"\n",
            ),
            (12, 12),
            "static_route[0].next_hop",
            "`gw.example.test` is in our SIP domain `example.test` but is not a pool of the topology",
            "add a [[pool]] for it",
        ),
        case(
            "static route transport other than tcp or tls",
            plus(
                "[[static_route]]\nmatch_uri = \"partner.test\"\nnext_hop = \"gw.partner.test\"\nport = 5060\ntransport = \"udp\"\n",
            ),
            (14, 13),
            "static_route[0].transport",
            "unknown variant `udp`",
            "use one of the values listed",
        ),
        case(
            "federated partner that is our own domain",
            plus(
                "[[federated_partner]]\ndomain = \"example.test\"\nedge_fqdn = \"sip.example.test\"\n",
            ),
            (11, 10),
            "federated_partner[0].domain",
            "`example.test` is one of our own SIP domains",
            "list only other organisations' domains",
        ),
        case(
            "plaintext password",
            plus(
                "[[user]]\naor = \"sip:alice@example.test\"\npool = \"fe.example.test\"\npassword = \"secret\"\n",
            ),
            (13, 12),
            "user[0].password",
            "invalid type: string \"secret\"",
            "never write a password into the topology",
        ),
        case(
            "HA1 that is not hex of the right length",
            plus(
                "[[user]]\naor = \"sip:alice@example.test\"\npool = \"fe.example.test\"\n[user.password]\nrealm = \"example.test\"\nha1_md5 = \"alice-dev\"\n",
            ),
            (15, 11),
            "user[0].password.ha1_md5",
            "not a MD5 HA1: expected 32 lowercase hex digits",
            "never the password itself",
        ),
        case(
            "user in a domain we do not serve",
            plus(
                "[[user]]\naor = \"sip:alice@other.test\"\npool = \"fe.example.test\"\npassword_in_store = true\n",
            ),
            (11, 7),
            "user[0].aor",
            "`other.test` is not one of our SIP domains (example.test)",
            "add a [[sip_domain]] for it",
        ),
        case(
            "user without credentials",
            plus("[[user]]\naor = \"sip:alice@example.test\"\npool = \"fe.example.test\"\n"),
            (11, 7),
            "user[0].password",
            "user `sip:alice@example.test` has no credentials",
            "password_in_store = true",
        ),
        case(
            "user homed on a pool that does not exist",
            plus(
                "[[user]]\naor = \"sip:alice@example.test\"\npool = \"fe2.example.test\"\npassword_in_store = true\n",
            ),
            (12, 8),
            "user[0].pool",
            "pool `fe2.example.test` is not defined (known: fe.example.test)",
            "name the front-end pool that homes the user",
        ),
        case(
            "no SIP domain",
            MIN.replace("[[sip_domain]]\nname = \"example.test\"\n", ""),
            (1, 1),
            "sip_domain",
            "the topology serves no SIP domain",
            "add [[sip_domain]]",
        ),
        case(
            "a problem in [voice] is reported by the same check",
            plus("[voice]\nbogus = 1\n"),
            (11, 1),
            "voice.bogus",
            "unknown field `bogus`",
            "correct the spelling",
        ),
        case(
            "a problem in [edge] is reported by the same check",
            plus(
                "[edge]\nfqdn = \"edge.example.test\"\nsip_domains = [{ domain = \"example.test\" }]\nfederation = \"yes\"\n",
            ),
            (13, 14),
            "federation",
            "invalid type: string \"yes\", expected a boolean",
            "correct the value to the type the key expects",
        ),
        case(
            "an [edge] whose FQDN is no edge pool of the topology",
            plus(
                "[edge]\nfqdn = \"fe.example.test\"\nsip_domains = [{ domain = \"example.test\" }]\n",
            ),
            (11, 1),
            "edge.fqdn",
            "`fe.example.test` is not a pool of the topology with the edge role",
            "add that role to the pool",
        ),
        case(
            "duplicate key",
            plus("site = \"HQ\"\n"),
            (10, 1),
            "pool[0].site",
            "duplicate key",
            "keep one definition of the key",
        ),
        case(
            "TOML syntax",
            plus("roles = [\"front-end\"\n"),
            (11, 1),
            "pool[0]",
            "invalid array: expected `]`",
            "correct the TOML at this position",
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let errs = errors(&c.text);
        let found = errs.iter().find(|e| {
            e.file == "t.toml"
                && (e.line, e.column) == (c.line, c.column)
                && e.field == c.field
                && e.problem.contains(c.problem)
                && e.fix.contains(c.fix)
        });
        if found.is_none() {
            failures.push(format!(
                "{}: expected t.toml:{}:{}: {}: …{}…; fix: …{}…\n  got:\n    {}",
                c.name,
                c.line,
                c.column,
                c.field,
                c.problem,
                c.fix,
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_problems_are_collected_not_just_the_first() {
    // A schema error in [[user]] and cross-reference errors elsewhere: all reported, in
    // file order.
    let text = plus(
        "[[trusted_application]]\nid = \"cups\"\npool = \"fe.example.test\"\nport = 5062\n\
         [[static_route]]\nmatch_uri = \"example.test\"\nnext_hop = \"gw.partner.test\"\nport = 5061\ntransport = \"tls\"\n\
         [[user]]\naor = \"sip:a@example.test\"\npool = \"fe.example.test\"\npasword_in_store = true\n",
    );
    let errs = errors(&text);
    let at: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        at,
        vec![
            (12, "trusted_application[0].pool"),
            (15, "static_route[0].match_uri"),
            (22, "user[0].pasword_in_store"),
        ],
        "{errs:#?}"
    );
}

#[test]
fn the_demo_topology_is_valid() {
    let t = Topology::parse(topology::DEMO, "topology/demo.toml").unwrap();
    assert_eq!(t.domains(), vec!["example.test"]);
    let pool = t.local_pool().unwrap();
    assert_eq!(pool.fqdn.get_ref(), "fe.example.test");
    let aors: Vec<&str> = t.users.iter().map(|u| u.aor.get_ref().as_str()).collect();
    assert_eq!(
        aors,
        [
            "sip:alice@example.test",
            "sip:bob@example.test",
            "sip:carol@example.test"
        ]
    );
}

#[test]
fn demo_passwords_are_digest_ha1_of_the_documented_dev_passwords() {
    use md5::{Digest as _, Md5};
    use sha2::Sha256;
    let t = Topology::parse(topology::DEMO, "topology/demo.toml").unwrap();
    for u in &t.users {
        let p = u.password.as_ref().unwrap().get_ref();
        let user = p.username.as_ref().unwrap().get_ref();
        // RFC 7616 §3.4.2: A1 = username ":" realm ":" password.
        let a1 = format!("{user}:{}:{user}-dev", p.realm.get_ref());
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            p.ha1_md5.as_ref().unwrap().get_ref(),
            &hex(&Md5::digest(a1.as_bytes()))
        );
        assert_eq!(
            p.ha1_sha256.as_ref().unwrap().get_ref(),
            &hex(&Sha256::digest(a1.as_bytes()))
        );
        assert!(!topology::DEMO.contains(&format!("\"{user}-dev\"")));
    }
}

#[test]
fn an_edge_section_naming_our_edge_pool_is_valid() {
    let text = MIN.replace(
        "roles = [\"front-end\"]",
        "roles = [\"front-end\", \"edge\"]",
    ) + "[edge]\nfqdn = \"fe.example.test\"\nsip_domains = [{ domain = \"example.test\" }]\n";
    let t = Topology::parse(&text, "t.toml").unwrap();
    assert!(t.has_edge && !t.has_voice);
}
