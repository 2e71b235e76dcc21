//! Golden vectors from `tests/fixtures/drift/gen.py` (numpy + scipy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use mlops_monitor::drift::{self, KsMethod};
use serde_json::Value;

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/drift/golden.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

/// Relative 1e-9, or absolute 1e-12 for tiny values.
fn assert_close(what: &str, got: f64, want: f64) {
    if got == want {
        return;
    }
    let diff = (got - want).abs();
    assert!(
        diff <= 1e-9 * want.abs() || diff <= 1e-12,
        "{what}: got {got:e}, want {want:e} (rel {:e})",
        diff / want.abs()
    );
}

/// Relative 1e-9 even for tiny values (used for KS p-values above the underflow range).
fn assert_close_rel(what: &str, got: f64, want: f64) {
    if want.abs() < 1e-300 {
        return assert_close(what, got, want);
    }
    let rel = ((got - want) / want).abs();
    assert!(
        rel <= 1e-9,
        "{what}: got {got:e}, want {want:e} (rel {rel:e})"
    );
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `a + b * (i / n)` for i in 0..n, as numpy computes it.
fn grid(spec: &Value) -> Vec<f64> {
    let s = spec.as_array().unwrap();
    let n = s[0].as_u64().unwrap() as usize;
    let (a, b) = (s[1].as_f64().unwrap(), s[2].as_f64().unwrap());
    (0..n).map(|i| a + b * (i as f64 / n as f64)).collect()
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, c)| (k.clone(), c.as_u64().unwrap()))
        .collect()
}

#[test]
fn ks_matches_scipy() {
    let g = golden();
    for case in g["ks"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = if case.get("grid_x").is_some() {
            (grid(&case["grid_x"]), grid(&case["grid_y"]))
        } else {
            (floats(&case["x"]), floats(&case["y"]))
        };
        let r = drift::ks_2samp(&x, &y).unwrap();
        assert_close(
            &format!("{name} statistic"),
            r.statistic,
            case["statistic"].as_f64().unwrap(),
        );
        assert_close_rel(
            &format!("{name} p-value"),
            r.p_value,
            case["p_value"].as_f64().unwrap(),
        );
        let exact = case["exact"].as_bool().unwrap();
        assert_eq!(r.method == KsMethod::Exact, exact, "{name} method");
        // Symmetric in its arguments.
        let s = drift::ks_2samp(&y, &x).unwrap();
        assert_close(&format!("{name} swapped p"), s.p_value, r.p_value);
    }
}

#[test]
fn numeric_distances_match_scipy() {
    let g = golden();
    for case in g["numeric"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        let wd = drift::wasserstein_distance(&x, &y).unwrap();
        assert_close(
            &format!("{name} wasserstein"),
            wd,
            case["wasserstein"].as_f64().unwrap(),
        );
        let wn = drift::wasserstein_test(&x, &y, 0.1).unwrap();
        assert_close(
            &format!("{name} wasserstein_norm"),
            wn.statistic,
            case["wasserstein_norm"].as_f64().unwrap(),
        );
        let bins = case["psi_bins"].as_u64().unwrap() as usize;
        let psi = drift::psi_test(&x, &y, bins, 0.1).unwrap();
        assert_close(
            &format!("{name} psi"),
            psi.statistic,
            case["psi"].as_f64().unwrap(),
        );
        let bins = case["js_bins"].as_u64().unwrap() as usize;
        let js = drift::jensen_shannon_numeric_test(&x, &y, bins, 0.1).unwrap();
        assert_close(
            &format!("{name} js"),
            js.statistic,
            case["js"].as_f64().unwrap(),
        );
    }
}

#[test]
fn categorical_tests_match_scipy() {
    let g = golden();
    for case in g["categorical"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (r, c) = (counts(&case["reference"]), counts(&case["current"]));
        if let Some(stat) = case.get("chi2_statistic") {
            let t = drift::chi_square_test(&r, &c, 0.05).unwrap();
            assert_close(&format!("{name} chi2"), t.statistic, stat.as_f64().unwrap());
            assert_close(
                &format!("{name} chi2 p"),
                t.p_value.unwrap(),
                case["chi2_p_value"].as_f64().unwrap(),
            );
        }
        if let Some(z) = case.get("z_statistic") {
            let t = drift::z_test(&r, &c, 0.05).unwrap();
            assert_close(&format!("{name} z"), t.statistic, z.as_f64().unwrap());
            assert_close(
                &format!("{name} z p"),
                t.p_value.unwrap(),
                case["z_p_value"].as_f64().unwrap(),
            );
        }
        let js = drift::jensen_shannon_test(&r, &c, 0.1).unwrap();
        assert_close(
            &format!("{name} js"),
            js.statistic,
            case["js"].as_f64().unwrap(),
        );
        let linf = drift::linf_test(&r, &c, 0.1).unwrap();
        assert_close(
            &format!("{name} linf"),
            linf.statistic,
            case["linf"].as_f64().unwrap(),
        );
        let psi = drift::psi_categorical_test(&r, &c, 0.1).unwrap();
        assert_close(
            &format!("{name} psi"),
            psi.statistic,
            case["psi"].as_f64().unwrap(),
        );
    }
}
