//! The self-contained HTML drift report: structure, escaping, and rendering in a real headless
//! Chromium (`apt-get install -y chromium`; the browser tests print a note and pass when
//! `/usr/bin/chromium` is absent).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use mlops_monitor::dataset::{DatasetDriftOptions, drift_between_streams};
use mlops_monitor::report::{DriftReport, MAX_CHART_CATEGORIES};
use mlops_monitor::{ColumnData, DriftConfig, data::BatchStream};

const EVIL_COLUMN: &str = "<script>alert(1)</script>";
const EVIL_CATEGORY: &str = "<img src=x onerror=alert(2)>";
const CHROMIUM: &str = "/usr/bin/chromium";

fn batch(n: usize, shift: f64, seed: u64) -> RecordBatch {
    // A small LCG keeps the test free of RNG crates and identical everywhere.
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(n);
    let mut stable = Vec::with_capacity(n);
    let mut plan = Vec::with_capacity(n);
    let mut many = Vec::with_capacity(n);
    let mut flag = Vec::with_capacity(n);
    let mut count = Vec::with_capacity(n);
    for i in 0..n {
        let u = uniform();
        x.push(u * 10.0 + shift);
        stable.push(uniform() * 3.0);
        let v = uniform();
        plan.push(if v < 0.5 - shift / 20.0 {
            "basic".to_owned()
        } else if v < 0.8 {
            "premium".to_owned()
        } else {
            EVIL_CATEGORY.to_owned()
        });
        many.push(format!("cat-{:02}", (uniform() * 30.0) as u32));
        flag.push(i % 3 == 0);
        count.push(i64::from((uniform() * 4.0) as u8));
    }
    RecordBatch::try_from_iter([
        (EVIL_COLUMN, Arc::new(Float64Array::from(x)) as ArrayRef),
        ("stable", Arc::new(Float64Array::from(stable)) as ArrayRef),
        ("plan", Arc::new(StringArray::from(plan)) as ArrayRef),
        (
            "many_categories",
            Arc::new(StringArray::from(many)) as ArrayRef,
        ),
        ("flag", Arc::new(BooleanArray::from(flag)) as ArrayRef),
        ("count", Arc::new(Int64Array::from(count)) as ArrayRef),
    ])
    .unwrap()
}

fn report() -> DriftReport {
    let (r, c) = (batch(2_000, 0.0, 1), batch(1_500, 4.0, 2));
    let out = drift_between_streams(
        BatchStream::from_batches(r.schema(), vec![r]),
        BatchStream::from_batches(c.schema(), vec![c]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    DriftReport::from_stream_drift(&out, "2026-11-27T12:00:00Z <now>")
}

#[test]
fn html_has_summary_table_and_one_chart_per_column() {
    let report = report();
    assert_eq!(report.columns.len(), 6);
    assert_eq!(report.dataset.n_reference_rows, Some(2_000));
    assert_eq!(report.dataset.n_current_rows, Some(1_500));
    let html = report.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.ends_with("</html>\n"));
    // Summary.
    assert!(html.contains("id=\"verdict\""));
    assert!(html.contains("2,000</div>rows read"));
    assert!(html.contains("1,500</div>rows read"));
    assert!(html.contains(&format!("{} / 6", report.dataset.n_drifted)));
    // One table row and one chart per column.
    assert_eq!(html.matches("<tr class=").count(), 6);
    assert_eq!(html.matches("<svg ").count(), 6);
    assert_eq!(html.matches("<figure ").count(), 6);
    // Reference and current bars in every chart.
    assert!(html.matches("<rect class=\"ref\"").count() >= 6);
    assert_eq!(
        html.matches("<rect class=\"ref\"").count(),
        html.matches("<rect class=\"cur\"").count()
    );
    // 30 categories: the largest 20 drawn, the rest pooled.
    assert!(html.contains(&format!(
        "the {MAX_CHART_CATEGORIES} largest of 30 categories"
    )));
    assert!(html.contains("10 others"));
    // Deterministic.
    assert_eq!(html, report.to_html());
}

#[test]
fn html_escapes_user_strings_and_is_self_contained() {
    let html = report().to_html();
    assert!(!html.contains(EVIL_COLUMN));
    assert!(!html.contains(EVIL_CATEGORY));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("2026-11-27T12:00:00Z &lt;now&gt;"));
    // No script, no external resource of any kind (outside the escaped hostile text).
    let lower = html.replace("&lt;img src=x", "").to_lowercase();
    for banned in [
        "<script",
        "<img",
        "<link",
        "<iframe",
        "<object",
        "src=",
        "http:",
        "https:",
        "url(",
        "@import",
        "javascript:",
    ] {
        assert!(!lower.contains(banned), "page contains {banned:?}");
    }
    // Every href is an in-page anchor.
    for (i, _) in html.match_indices("href=\"") {
        assert_eq!(html.get(i + 6..i + 7), Some("#"));
    }
}

#[test]
fn html_handles_reports_without_distributions_and_odd_values() {
    let a: Vec<f64> = (0..50).map(f64::from).collect();
    let mut cats = std::collections::BTreeMap::new();
    cats.insert("a".to_owned(), 3_u64);
    cats.insert("b".to_owned(), 3_u64);
    let mut cur = cats.clone();
    cur.insert("new\"one'&".to_owned(), 1);
    let drift = DriftConfig::default()
        .test_dataset([
            ("x", ColumnData::Numeric(&a), ColumnData::Numeric(&a)),
            (
                "c",
                ColumnData::Categorical(&cats),
                ColumnData::Categorical(&cur),
            ),
        ])
        .unwrap();
    let report = DriftReport::from_dataset_drift(&drift, "t");
    let html = report.to_html();
    assert_eq!(html.matches("<svg ").count(), 2);
    assert!(html.contains("no distribution recorded"));
    assert!(html.contains("values (largest column)"));
    // An infinite chi-square statistic (a category the reference lacks) renders as ∞.
    assert!(report.columns[1].statistic.is_infinite());
    assert!(html.contains("<td class=\"num\">∞</td>"));
    // An empty report still renders.
    let empty = DriftConfig::default()
        .test_dataset(std::iter::empty::<(&str, ColumnData<'_>, ColumnData<'_>)>())
        .unwrap();
    let html = DriftReport::from_dataset_drift(&empty, "t").to_html();
    assert_eq!(html.matches("<svg ").count(), 0);
    assert!(html.contains("0 / 0"));
}

// ---- real browser ---------------------------------------------------------------------------

fn chromium() -> Option<&'static Path> {
    let p = Path::new(CHROMIUM);
    if p.exists() {
        Some(p)
    } else {
        // CI installs the browser and sets this, so a missing browser cannot pass silently there.
        assert!(
            std::env::var_os("MLOPS_REQUIRE_CHROMIUM").is_none(),
            "MLOPS_REQUIRE_CHROMIUM is set but {CHROMIUM} is missing"
        );
        println!(
            "SKIPPED: {CHROMIUM} not found; install it with `apt-get install -y chromium` to run the browser test"
        );
        None
    }
}

/// Runs headless Chromium with `args` and returns its stdout; kills it after 90 s.
fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(width, height)` from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn html_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = report();
    let page: PathBuf = dir.path().join("report.html");
    std::fs::write(&page, report.to_html()).unwrap();

    // The DOM as the browser parsed it.
    let dom = run_chromium(
        browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom".to_owned(), file_url(&page)],
    );
    assert!(dom.contains("<table id=\"drift-table\">"), "{dom}");
    let tbody = dom
        .split("<tbody>")
        .nth(1)
        .and_then(|s| s.split("</tbody>").next())
        .expect("table body");
    assert_eq!(tbody.matches("<tr ").count(), report.columns.len());
    for c in &report.columns {
        let cell = c
            .column
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(tbody.contains(&cell), "no row for {:?}", c.column);
    }
    assert_eq!(dom.matches("<svg ").count(), report.columns.len());
    assert_eq!(dom.matches("<figure ").count(), report.columns.len());
    // The hostile column name stayed text: the parsed DOM has no script or img element.
    assert!(!dom.contains("<script"));
    assert!(!dom.contains("<img"));
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // A screenshot of the page, against one of an empty page.
    let shot = dir.path().join("report.png");
    run_chromium(
        browser,
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".to_owned(),
            file_url(&page),
        ],
    );
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = dir.path().join("blank.png");
    run_chromium(
        browser,
        &dir.path().join("profile-blank"),
        &[
            format!("--screenshot={}", blank.display()),
            "--window-size=1280,2400".to_owned(),
            file_url(&blank_page),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    let blank_png = std::fs::read(&blank).unwrap();
    assert_eq!(png_size(&png), (1280, 2400));
    assert_eq!(png_size(&blank_png), (1280, 2400));
    // Text, bars and tables compress far worse than a white page.
    assert!(
        png.len() > 20_000 && png.len() > 5 * blank_png.len(),
        "report screenshot {} bytes, blank page {} bytes",
        png.len(),
        blank_png.len()
    );
    // Keep a copy for people when asked to (the lead's CI can upload it).
    if let Some(out) = std::env::var_os("MLOPS_HTML_REPORT_OUT") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(&page, out.join("report.html")).unwrap();
        std::fs::copy(&shot, out.join("report.png")).unwrap();
    }
}
