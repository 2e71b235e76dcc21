//! Model cards: a Markdown summary of one model version, built from the registry alone.

use std::fmt::Write as _;

use crate::event::{Action, Event};
use crate::tracking::LineageReport;

/// Formats unix milliseconds as RFC 3339 UTC (`2024-05-01T12:00:00.000Z`).
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (always >= 0 here).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Escapes text for a Markdown table cell or line: pipes, backticks, markup characters and
/// line breaks cannot change the card's structure.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the card. `history` holds the events concerning this model, in log order.
pub(crate) fn render(lineage: &LineageReport, history: &[Event]) -> String {
    let v = &lineage.version;
    let m = &v.metadata;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "# Model card: {} version {}\n",
        esc(v.model.as_str()),
        v.version
    );
    if !m.description.is_empty() {
        let _ = writeln!(s, "{}\n", esc(&m.description));
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| Status | {} |",
        if v.archived { "archived" } else { "live" }
    );
    let aliases: Vec<&str> = v.aliases.iter().map(|a| a.as_str()).collect();
    let _ = writeln!(
        s,
        "| Aliases | {} |",
        if aliases.is_empty() {
            "none".to_owned()
        } else {
            esc(&aliases.join(", "))
        }
    );
    let _ = writeln!(
        s,
        "| Registered | {} by {} |",
        rfc3339_ms(v.registered_ms),
        esc(&v.actor)
    );
    let _ = writeln!(s, "| Bundle | sha256 `{}`, {} bytes |", v.blob, v.size);
    let _ = writeln!(s, "| Audit event | {} |", v.event_seq);
    table(
        &mut s,
        "Metrics",
        m.metrics.iter().map(|(k, x)| (esc(k), format!("{x}"))),
    );
    table(
        &mut s,
        "Parameters",
        m.params.iter().map(|(k, x)| (esc(k), esc(x))),
    );
    table(
        &mut s,
        "Tags",
        m.tags.iter().map(|(k, x)| (esc(k.as_str()), esc(x))),
    );
    if let Some(sig) = &m.signature {
        let _ = writeln!(s, "\n## Signature\n\n```json");
        let pretty = serde_json::to_string_pretty(sig).unwrap_or_default();
        let _ = writeln!(s, "{}\n```", pretty.replace("```", "\\`\\`\\`"));
    }
    let _ = writeln!(s, "\n## Lineage\n");
    match (&lineage.run, &m.lineage.run_id) {
        (Some(r), _) => {
            let metrics: Vec<String> = r
                .metrics
                .iter()
                .map(|(k, x)| format!("{}={x}", esc(k)))
                .collect();
            let _ = writeln!(
                s,
                "- Run {} (experiment {}, logged {} by {}){}",
                esc(r.run.as_str()),
                esc(r.experiment.as_str()),
                rfc3339_ms(r.logged_ms),
                esc(&r.actor),
                if metrics.is_empty() {
                    String::new()
                } else {
                    format!(": {}", metrics.join(", "))
                }
            );
        }
        (None, Some(id)) => {
            let _ = writeln!(
                s,
                "- Run {} (not stored in this registry)",
                esc(id.as_str())
            );
        }
        (None, None) => {
            let _ = writeln!(s, "- No run recorded");
        }
    }
    if lineage.datasets.is_empty() {
        let _ = writeln!(s, "- No datasets recorded");
    }
    for (fp, snap) in &lineage.datasets {
        match snap {
            Some(d) => {
                let label = d
                    .name
                    .as_ref()
                    .map(|n| format!(" ({})", esc(n.as_str())))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "- Dataset `{fp}`{label}: snapshot stored, {} bytes",
                    d.size
                );
            }
            None => {
                let _ = writeln!(s, "- Dataset `{fp}`: no snapshot stored");
            }
        }
    }
    let _ = writeln!(s, "\n## History\n");
    let _ = writeln!(
        s,
        "| Event | Time | Actor | Action | Reason |\n|---|---|---|---|---|"
    );
    for e in history {
        let what = match &e.action {
            Action::RegisterVersion { version, .. } => format!("registered version {version}"),
            Action::SetAlias {
                alias,
                version,
                previous,
                ..
            } => match previous {
                Some(p) => format!("moved {} from {p} to {version}", esc(alias.as_str())),
                None => format!("set {} to {version}", esc(alias.as_str())),
            },
            Action::Archive { version, .. } => format!("archived version {version}"),
            Action::Rollback {
                alias, from, to, ..
            } => {
                format!("rolled {} back from {from} to {to}", esc(alias.as_str()))
            }
            other => other.kind().to_owned(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            e.seq,
            rfc3339_ms(e.time_ms),
            esc(&e.actor),
            what,
            esc(&e.reason)
        );
    }
    s
}

fn table(s: &mut String, title: &str, rows: impl Iterator<Item = (String, String)>) {
    let rows: Vec<(String, String)> = rows.collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## {title}\n\n| Name | Value |\n|---|---|");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        // Values from `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%S`.
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn escaping_keeps_structure() {
        assert_eq!(esc("a|b\nc`d"), "a\\|b c\\`d");
        assert_eq!(esc("# <script>"), "\\# \\<script\\>");
    }
}
