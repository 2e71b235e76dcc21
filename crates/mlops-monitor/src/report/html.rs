//! The self-contained HTML page of a [`DriftReport`]: inline CSS and inline SVG only, no
//! scripts and no external resource, every user string escaped.

use std::fmt::Write as _;

use super::{ColumnReport, DriftReport};
use crate::dataset::ColumnDistribution;

/// Most categories drawn per chart; the rest are pooled into one bar.
pub const MAX_CHART_CATEGORIES: usize = 20;

/// Characters of a category label under a bar (the full name is in the bar's tooltip).
const LABEL_CHARS: usize = 14;

const CSS: &str = "\
:root{--ref:#4c78a8;--cur:#f58518;--bad:#b42318;--ok:#1e7d32;--line:#d9dee5;--muted:#5b6675}
*{box-sizing:border-box}
body{margin:0;padding:24px;background:#f6f7f9;color:#1d2430;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px;word-break:break-all}
.meta{color:var(--muted);margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:170px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.drift{background:#fdecea;color:var(--bad)}
.badge.ok{background:#e7f4ea;color:var(--ok)}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{word-break:break-all}
tr.drifted td.name{font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
.key.ref{background:var(--ref)}.key.cur{background:var(--cur)}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;fill:#4a5565}
svg .ref{fill:var(--ref)}svg .cur{fill:var(--cur)}
svg .axis{stroke:#9aa4b2;stroke-width:1}svg .grid{stroke:#e6e9ee;stroke-width:1}
";

/// Escapes `&`, `<`, `>`, `"` and `'` for text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for display: up to 4 significant digits, scientific when very large or small.
fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "n/a".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "−∞" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".to_owned(),
        Some(p) if p > 0.0 && p < 1e-4 => format!("{p:.2e}"),
        Some(p) => fmt_num(p),
    }
}

fn fmt_pct(share: f64) -> String {
    if share.is_finite() {
        format!("{}%", fmt_num(share * 100.0))
    } else {
        "n/a".to_owned()
    }
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn badge(drifted: bool) -> &'static str {
    if drifted {
        "<span class=\"badge drift\">drift</span>"
    } else {
        "<span class=\"badge ok\">no drift</span>"
    }
}

fn test_label(c: &ColumnReport) -> String {
    serde_json::to_value(c.test)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", c.test))
}

/// One bar group of a chart: a label (shown under the group), its tooltip name, and the
/// reference and current shares.
struct Group {
    label: String,
    name: String,
    reference: f64,
    current: f64,
}

/// The smallest of `{1, 2, 4, 5, 6, 8} × 10^k` at least `v` (1 for non-positive `v`), so the
/// axis ticks at 0, max/2 and max are round.
fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let scale = 10_f64.powf(v.log10().floor());
    [1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * scale)
        .find(|&m| m >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * scale)
}

/// Chart geometry.
const W: f64 = 520.0;
const H: f64 = 250.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;

fn svg_bars(out: &mut String, title: &str, groups: &[Group], bottom: f64, rotate: bool) {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - bottom;
    let max = groups
        .iter()
        .flat_map(|g| [g.reference, g.current])
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let max = nice_ceil(max);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    // Grid lines and y labels at 0, max/2, max (shares as percentages).
    for k in 0..=2 {
        let v = max * f64::from(k) / 2.0;
        let y = TOP + ph - ph * f64::from(k) / 2.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            escape(&fmt_pct(v))
        );
    }
    let n = groups.len().max(1) as f64;
    let slot = pw / n;
    let bar = (slot * 0.4).min(28.0);
    for (i, g) in groups.iter().enumerate() {
        let x0 = LEFT + slot * i as f64 + slot / 2.0 - bar;
        for (k, (class, share, side)) in [
            ("ref", g.reference, "reference"),
            ("cur", g.current, "current"),
        ]
        .into_iter()
        .enumerate()
        {
            let share = if share.is_finite() {
                share.max(0.0)
            } else {
                0.0
            };
            let h = ph * share / max;
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\">\
                 <title>{}: {side} {}</title></rect>",
                x0 + bar * k as f64,
                TOP + ph - h,
                escape(&g.name),
                escape(&fmt_pct(share))
            );
        }
        if !g.label.is_empty() {
            let x = LEFT + slot * i as f64 + slot / 2.0;
            let y = TOP + ph + 14.0;
            if rotate {
                let _ = write!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" transform=\"rotate(-35 {x:.1} {y:.1})\">{}</text>",
                    escape(&g.label)
                );
            } else {
                let _ = write!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>",
                    escape(&g.label)
                );
            }
        }
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/></svg>",
        TOP + ph,
        W - RIGHT,
        TOP + ph
    );
}

fn numeric_chart(out: &mut String, name: &str, edges: &[f64], reference: &[u64], current: &[u64]) {
    let bins = reference.len().min(current.len());
    if bins == 0 || edges.len() < bins + 1 {
        empty_chart(out, name, "no values to chart");
        return;
    }
    let (rn, cn) = (
        reference.iter().sum::<u64>().max(1) as f64,
        current.iter().sum::<u64>().max(1) as f64,
    );
    let groups: Vec<Group> = reference
        .iter()
        .zip(current)
        .zip(edges.windows(2))
        .enumerate()
        .map(|(i, ((&r, &c), w))| {
            let (lo, hi) = (
                w.first().copied().unwrap_or(0.0),
                w.get(1).copied().unwrap_or(0.0),
            );
            let close = if i + 1 == bins { ']' } else { ')' };
            Group {
                label: if i % 2 == 0 {
                    fmt_num((lo + hi) / 2.0)
                } else {
                    String::new()
                },
                name: format!("[{}, {}{close}", fmt_num(lo), fmt_num(hi)),
                reference: r as f64 / rn,
                current: c as f64 / cn,
            }
        })
        .collect();
    svg_bars(out, &format!("Histogram of {name}"), &groups, 34.0, false);
    let _ = write!(
        out,
        "<figcaption><span class=\"key ref\"></span>reference<span class=\"key cur\"></span>current \
         · share of values per bin, {bins} equal-width bins over [{}, {}]</figcaption>",
        escape(&fmt_num(edges.first().copied().unwrap_or(f64::NAN))),
        escape(&fmt_num(edges.last().copied().unwrap_or(f64::NAN)))
    );
}

fn categorical_chart(
    out: &mut String,
    name: &str,
    reference: &std::collections::BTreeMap<String, f64>,
    current: &std::collections::BTreeMap<String, f64>,
) {
    let mut cats: Vec<(&str, f64, f64)> = reference
        .keys()
        .chain(current.keys())
        .map(String::as_str)
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(|k| {
            (
                k,
                reference.get(k).copied().unwrap_or(0.0),
                current.get(k).copied().unwrap_or(0.0),
            )
        })
        .collect();
    if cats.is_empty() {
        empty_chart(out, name, "no categories to chart");
        return;
    }
    // Largest categories first (ties by name), the tail pooled.
    cats.sort_by(|a, b| b.1.max(b.2).total_cmp(&a.1.max(a.2)).then(a.0.cmp(b.0)));
    let total = cats.len();
    let mut groups: Vec<Group> = cats
        .iter()
        .take(MAX_CHART_CATEGORIES)
        .map(|&(k, r, c)| {
            let mut label: String = k.chars().take(LABEL_CHARS).collect();
            if k.chars().count() > LABEL_CHARS {
                label.push('…');
            }
            Group {
                label,
                name: k.to_owned(),
                reference: r,
                current: c,
            }
        })
        .collect();
    if total > MAX_CHART_CATEGORIES {
        let rest = cats.get(MAX_CHART_CATEGORIES..).unwrap_or(&[]);
        groups.push(Group {
            label: format!("{} others", rest.len()),
            name: format!("{} other categories", rest.len()),
            reference: rest.iter().map(|c| c.1).sum(),
            current: rest.iter().map(|c| c.2).sum(),
        });
    }
    svg_bars(
        out,
        &format!("Category shares of {name}"),
        &groups,
        86.0,
        true,
    );
    let shown = if total > MAX_CHART_CATEGORIES {
        format!("the {MAX_CHART_CATEGORIES} largest of {total} categories, the rest pooled")
    } else {
        format!("{total} categories")
    };
    let _ = write!(
        out,
        "<figcaption><span class=\"key ref\"></span>reference<span class=\"key cur\"></span>current \
         · share of each category, {shown}</figcaption>"
    );
}

fn empty_chart(out: &mut String, name: &str, note: &str) {
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {W} 60\" role=\"img\" aria-label=\"{}\">\
         <text x=\"{}\" y=\"34\" text-anchor=\"middle\">{}</text></svg>",
        escape(&format!("No chart for {name}")),
        W / 2.0,
        escape(note)
    );
}

impl DriftReport {
    /// The report as one self-contained HTML page: a summary (dataset verdict, drifted share,
    /// rows), the drift table (column, type, test, statistic, p-value, threshold, verdict) and,
    /// per column, an inline SVG chart of the reference and current distributions (shares per
    /// histogram bin for numeric columns, per category for categorical ones; at most
    /// [`MAX_CHART_CATEGORIES`] categories are drawn, the rest pooled). A column without a
    /// distribution (a report built from a bare [`DatasetDrift`](crate::DatasetDrift)) gets a
    /// placeholder chart, so there is always one `<svg>` per column.
    ///
    /// The page has inline CSS and SVG only: no script, no external resource. Every string
    /// from the data (column names, categories, `generated_at`) is HTML-escaped. The output is
    /// deterministic.
    ///
    /// ```
    /// use mlops_monitor::{ColumnData, DriftConfig, DriftReport};
    /// let a: Vec<f64> = (0..100).map(f64::from).collect();
    /// let drift = DriftConfig::default()
    ///     .test_dataset([("<b>x</b>", ColumnData::Numeric(&a), ColumnData::Numeric(&a))])?;
    /// let html = DriftReport::from_dataset_drift(&drift, "now").to_html();
    /// assert!(html.starts_with("<!DOCTYPE html>"));
    /// assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x"));
    /// assert!(!html.contains("<script"));
    /// # Ok::<(), mlops_monitor::Error>(())
    /// ```
    pub fn to_html(&self) -> String {
        let d = &self.dataset;
        let mut o = String::with_capacity(8192 + self.columns.len() * 4096);
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"generator\" content=\"{}\">\
             <title>Data drift report</title><style>{CSS}</style></head><body><main>\
             <h1>Data drift report</h1><p class=\"meta\">Generated at {} · {}</p>",
            escape(&self.version),
            escape(&self.generated_at),
            escape(&self.version),
        );
        // Summary.
        let verdict = if d.drifted {
            "Drift detected"
        } else {
            "No drift"
        };
        let _ = write!(
            o,
            "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">\
             <div class=\"card\"><div class=\"label\">Dataset</div><div class=\"value\" id=\"verdict\">{verdict}</div>{}</div>\
             <div class=\"card\"><div class=\"label\">Drifted columns</div><div class=\"value\">{} / {}</div>share {} (threshold {})</div>",
            badge(d.drifted),
            d.n_drifted,
            d.n_columns,
            escape(&fmt_pct(d.share_drifted)),
            escape(&fmt_pct(d.threshold)),
        );
        let rows = |label: &str, known: Option<u64>, per_col: fn(&ColumnReport) -> u64| {
            let (value, note) = match known {
                Some(n) => (fmt_count(n), "rows read"),
                None => (
                    fmt_count(self.columns.iter().map(per_col).max().unwrap_or(0)),
                    "values (largest column)",
                ),
            };
            format!(
                "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>{note}</div>"
            )
        };
        o.push_str(&rows("Reference", d.n_reference_rows, |c| c.n_reference));
        o.push_str(&rows("Current", d.n_current_rows, |c| c.n_current));
        o.push_str("</div></section>");

        // Table.
        o.push_str(
            "<section id=\"columns\"><h2>Drift by column</h2><table id=\"drift-table\"><thead><tr>\
             <th>Column</th><th>Type</th><th>Test</th><th>Statistic</th><th>p-value</th>\
             <th>Threshold</th><th>Values (ref / cur)</th><th>Verdict</th></tr></thead><tbody>",
        );
        for (i, c) in self.columns.iter().enumerate() {
            let _ = write!(
                o,
                "<tr class=\"{}\"><td class=\"name\"><a href=\"#col-{i}\">{}</a></td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td>\
                 <td class=\"num\">{} / {}</td><td>{}</td></tr>",
                if c.drifted { "drifted" } else { "stable" },
                escape(&c.column),
                c.kind,
                escape(&test_label(c)),
                escape(&fmt_num(c.statistic)),
                escape(&fmt_p(c.p_value)),
                if c.test.uses_p_value() {
                    "p &lt; "
                } else {
                    "≥ "
                },
                escape(&fmt_num(c.threshold)),
                fmt_count(c.n_reference),
                fmt_count(c.n_current),
                badge(c.drifted),
            );
        }
        o.push_str("</tbody></table></section>");

        // Charts.
        o.push_str("<section id=\"distributions\"><h2>Distributions</h2><div class=\"charts\">");
        for (i, c) in self.columns.iter().enumerate() {
            let _ = write!(
                o,
                "<figure id=\"col-{i}\" class=\"column-chart\"><h3>{} {}</h3>",
                escape(&c.column),
                badge(c.drifted)
            );
            match &c.distribution {
                Some(ColumnDistribution::Numeric {
                    edges,
                    reference,
                    current,
                }) => numeric_chart(&mut o, &c.column, edges, reference, current),
                Some(ColumnDistribution::Categorical { reference, current }) => {
                    categorical_chart(&mut o, &c.column, reference, current);
                }
                None => empty_chart(&mut o, &c.column, "no distribution recorded in this report"),
            }
            o.push_str("</figure>");
        }
        o.push_str("</div></section></main></body></html>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(1e-7), "1.000e-7");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_num(f64::INFINITY), "∞");
        assert_eq!(fmt_p(Some(3e-9)), "3.00e-9");
        assert_eq!(fmt_p(None), "—");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_count(12), "12");
        assert_eq!(fmt_pct(0.5), "50%");
        assert_eq!(nice_ceil(0.155), 0.2);
        assert_eq!(nice_ceil(0.307), 0.4);
        assert_eq!(nice_ceil(0.499), 0.5);
        assert_eq!(nice_ceil(1.0), 1.0);
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(f64::NAN), 1.0);
    }
}
