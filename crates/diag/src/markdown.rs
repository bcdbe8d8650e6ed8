//! The admin documentation `docs/diagnostics.md`, generated from the catalogue.

use crate::{CATALOGUE, CONVENE_RANGE, DiagCode, StatusEvidence};
use std::fmt::Write as _;

/// Renders the whole catalogue as the Markdown page committed at `docs/diagnostics.md`.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("# ms-diagnostics codes Convene emits\n\n");
    out.push_str(
        "<!-- Generated from crates/diag (the catalogue). Do not edit by hand: run\n     \
         `cargo run -q --bin convene -- ctl diag --markdown > docs/diagnostics.md` -->\n\n",
    );
    out.push_str(
        "Every rejection Convene sends carries one `ms-diagnostics` header ([MS-OCER] 2.2.1.1):\n\
         `ErrorId;reason=\"...\";<parameters>;source=\"<server FQDN>\"`. Towards external networks\n\
         and unauthenticated users only `ms-diagnostics-public` (no `source`) is sent, for the codes\n\
         marked so below ([MS-OCER] 2.2.1.2). Look a code up with `convene ctl diag <code>`.\n\n",
    );
    let _ = writeln!(
        out,
        "Codes {}–{} are Convene's own, for situations Microsoft has no code for; every other\n\
         code keeps Microsoft's meaning. A status marked *chosen* was never observed with the code\n\
         in a Microsoft trace and is Convene's choice.\n",
        CONVENE_RANGE.start(),
        CONVENE_RANGE.end()
    );
    out.push_str("| code | status | header | reason |\n|---|---|---|---|\n");
    for c in CATALOGUE {
        let _ = writeln!(
            out,
            "| [{id}](#{id}) | {st} | {h} | {r} |",
            id = c.id,
            st = status_label(c),
            h = c.header.label(),
            r = cell(c.reason)
        );
    }
    for c in CATALOGUE {
        let _ = write!(out, "\n## {}\n\n", c.id);
        let _ = writeln!(out, "- **reason**: `{}`", c.reason);
        let _ = writeln!(out, "- **status**: {}", status_label(c));
        let _ = writeln!(out, "- **header**: {}", c.header.label());
        if !c.params.is_empty() {
            let ps: Vec<String> = c.params.iter().map(|p| format!("`{p}`")).collect();
            let _ = writeln!(out, "- **parameters**: {}", ps.join(", "));
        }
        let _ = writeln!(out, "- **meaning**: {}", c.meaning);
        let _ = writeln!(out, "- **fix**: {}", c.fix);
        let _ = writeln!(out, "- **source**: {}", c.citation);
    }
    out
}

fn status_label(c: &DiagCode) -> String {
    match c.status_evidence {
        StatusEvidence::Observed => c.status.to_string(),
        StatusEvidence::Chosen => format!("{} (chosen)", c.status),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}
