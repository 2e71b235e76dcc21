//! Edge cases, errors, the automatic test choice and serde round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use mlops_monitor::detect::{AdwinParams, DdmParams, PageHinkleyParams};
use mlops_monitor::drift::{self, KsMethod, TestKind, TestResult};
use mlops_monitor::{
    Adwin, ColumnData, ColumnKind, DatasetDrift, Ddm, DriftConfig, DriftDetector, DriftStatus,
    Error, PageHinkley, Sample,
};

fn cats(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn empty_and_nan_samples_are_typed_errors_naming_the_sample() {
    assert_eq!(
        drift::ks_2samp(&[], &[1.0]).unwrap_err(),
        Error::EmptySample {
            sample: Sample::Reference
        }
    );
    assert_eq!(
        drift::ks_2samp(&[1.0], &[]).unwrap_err(),
        Error::EmptySample {
            sample: Sample::Current
        }
    );
    assert_eq!(
        drift::ks_2samp(&[1.0, 2.0], &[0.0, f64::NAN]).unwrap_err(),
        Error::NanInSample {
            sample: Sample::Current,
            index: 1
        }
    );
    assert_eq!(
        drift::wasserstein_test(&[1.0, f64::INFINITY], &[0.0], 0.1).unwrap_err(),
        Error::NonFiniteInSample {
            sample: Sample::Reference,
            index: 1,
            value: f64::INFINITY
        }
    );
    assert!(matches!(
        drift::psi_test(&[f64::NAN], &[0.0], 10, 0.1),
        Err(Error::NanInSample {
            sample: Sample::Reference,
            index: 0
        })
    ));
    let empty: BTreeMap<String, u64> = cats(&[("a", 0)]);
    assert_eq!(
        drift::chi_square_test(&cats(&[("a", 1)]), &empty, 0.05).unwrap_err(),
        Error::EmptySample {
            sample: Sample::Current
        }
    );
    let msg = Error::NanInSample {
        sample: Sample::Current,
        index: 7,
    }
    .to_string();
    assert!(msg.contains("current") && msg.contains('7'), "{msg}");
}

#[test]
fn invalid_parameters_are_rejected() {
    assert!(matches!(
        drift::ks_test(&[1.0], &[2.0], 0.0),
        Err(Error::InvalidParameter { name: "alpha", .. })
    ));
    assert!(matches!(
        drift::ks_test(&[1.0], &[2.0], 1.0),
        Err(Error::InvalidParameter { name: "alpha", .. })
    ));
    assert!(matches!(
        drift::wasserstein_test(&[1.0], &[2.0], f64::NAN),
        Err(Error::InvalidParameter {
            name: "threshold",
            ..
        })
    ));
    assert!(matches!(
        drift::psi_test(&[1.0], &[2.0], 1, 0.1),
        Err(Error::InvalidParameter { name: "n_bins", .. })
    ));
    assert!(matches!(
        AdwinParams {
            delta: 0.0,
            ..Default::default()
        }
        .build(),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        AdwinParams {
            clock: 0,
            ..Default::default()
        }
        .build(),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        PageHinkleyParams {
            alpha: 1.5,
            ..Default::default()
        }
        .build(),
        Err(Error::InvalidParameter { name: "alpha", .. })
    ));
    assert!(matches!(
        DdmParams {
            warning_threshold: 3.0,
            drift_threshold: 2.0,
            ..Default::default()
        }
        .build(),
        Err(Error::InvalidParameter {
            name: "drift_threshold",
            ..
        })
    ));
    let cfg = DriftConfig {
        dataset_drift_share: 0.0,
        ..Default::default()
    };
    assert!(matches!(
        cfg.test_dataset([]),
        Err(Error::InvalidParameter {
            name: "dataset_drift_share",
            ..
        })
    ));
}

#[test]
fn ks_edge_cases() {
    // Identical samples, constants, single observations.
    let r = drift::ks_2samp(&[3.0; 20], &[3.0; 7]).unwrap();
    assert_eq!(
        (r.statistic, r.p_value, r.method),
        (0.0, 1.0, KsMethod::Exact)
    );
    let r = drift::ks_2samp(&[1.0], &[2.0]).unwrap();
    assert_eq!((r.statistic, r.p_value), (1.0, 1.0));
    // Infinities are ordinary (extreme) values for KS.
    let r = drift::ks_2samp(&[f64::NEG_INFINITY, 0.0, 1.0], &[0.0, 1.0, f64::INFINITY]).unwrap();
    assert!((r.statistic - 1.0 / 3.0).abs() < 1e-15);
    // -0.0 and 0.0 are the same value.
    let r = drift::ks_2samp(&[-0.0, 1.0], &[0.0, 1.0]).unwrap();
    assert_eq!(r.statistic, 0.0);
    // Large identical samples: asymptotic path, p = 1.
    let x: Vec<f64> = (0..20_000).map(|i| (i % 97) as f64).collect();
    let r = drift::ks_2samp(&x, &x).unwrap();
    assert_eq!(
        (r.statistic, r.p_value, r.method),
        (0.0, 1.0, KsMethod::Asymptotic)
    );
    // Disjoint large samples: p underflows to 0, verdict drifted.
    let y: Vec<f64> = (0..15_000).map(|i| 1000.0 + i as f64).collect();
    let t = drift::ks_test(&x, &y, 0.05).unwrap();
    assert_eq!(t.statistic, 1.0);
    assert!(t.drifted && t.p_value.unwrap() < 1e-300);
}

#[test]
fn wasserstein_zero_variance_reference_uses_the_floor() {
    let t = drift::wasserstein_test(&[2.0; 10], &[2.0; 4], 0.1).unwrap();
    assert_eq!((t.statistic, t.drifted), (0.0, false));
    let t = drift::wasserstein_test(&[2.0; 10], &[2.001; 4], 0.1).unwrap();
    assert!((t.statistic - 1.0).abs() < 1e-9, "{}", t.statistic); // 0.001 / 0.001
    assert!(t.drifted);
    assert_eq!(drift::WASSERSTEIN_STD_FLOOR, 1e-3);
}

#[test]
fn categorical_mismatched_sets() {
    let r = cats(&[("a", 50), ("b", 50)]);
    // A category seen only in the current sample: chi-square statistic is infinite, p = 0.
    let c = cats(&[("a", 40), ("b", 40), ("new", 20)]);
    let t = drift::chi_square_test(&r, &c, 0.05).unwrap();
    assert!(t.statistic.is_infinite() && t.p_value == Some(0.0) && t.drifted);
    // ... PSI is large but finite thanks to the epsilon, JS finite, L-inf the share.
    let psi = drift::psi_categorical_test(&r, &c, 0.1).unwrap();
    assert!(psi.statistic.is_finite() && psi.drifted);
    assert!((drift::linf_test(&r, &c, 0.1).unwrap().statistic - 0.2).abs() < 1e-15);
    // Zero counts in both maps are ignored.
    let c2 = cats(&[("a", 50), ("b", 50), ("ghost", 0)]);
    let t = drift::chi_square_test(&r, &c2, 0.05).unwrap();
    assert_eq!((t.statistic, t.p_value), (0.0, Some(1.0)));
    // Disjoint supports: maximal JS distance sqrt(ln 2).
    let js = drift::jensen_shannon_test(&cats(&[("x", 3)]), &cats(&[("y", 5)]), 0.1).unwrap();
    assert!((js.statistic - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    // A single category overall: no drift possible.
    let t = drift::chi_square_test(&cats(&[("a", 3)]), &cats(&[("a", 9)]), 0.05).unwrap();
    assert_eq!((t.statistic, t.p_value, t.drifted), (0.0, Some(1.0), false));
    let z = drift::z_test(&cats(&[("a", 3)]), &cats(&[("a", 9)]), 0.05).unwrap();
    assert_eq!((z.statistic, z.p_value), (0.0, Some(1.0)));
    // Z needs a binary column.
    assert_eq!(
        drift::z_test(&cats(&[("a", 1), ("b", 1)]), &cats(&[("c", 1)]), 0.05).unwrap_err(),
        Error::NotBinary { found: 3 }
    );
}

#[test]
fn automatic_choice_follows_evidently() {
    let cfg = DriftConfig::default();
    let small: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
    let large: Vec<f64> = (0..1001).map(|i| i as f64 * 0.5).collect();
    let few: Vec<f64> = (0..900).map(|i| (i % 4) as f64).collect();
    let two: Vec<f64> = (0..900).map(|i| (i % 2) as f64).collect();
    let few_large: Vec<f64> = (0..5000).map(|i| (i % 4) as f64).collect();
    let n = ColumnData::Numeric;
    assert_eq!(
        cfg.choose(n(&small), n(&large)).unwrap(),
        TestKind::KolmogorovSmirnov
    );
    assert_eq!(
        cfg.choose(n(&large), n(&small)).unwrap(),
        TestKind::WassersteinNormed
    );
    assert_eq!(cfg.choose(n(&few), n(&few)).unwrap(), TestKind::ChiSquare);
    assert_eq!(cfg.choose(n(&two), n(&two)).unwrap(), TestKind::ZTest);
    assert_eq!(
        cfg.choose(n(&few_large), n(&few)).unwrap(),
        TestKind::JensenShannon
    );
    let c_small = cats(&[("a", 500), ("b", 300), ("c", 200)]);
    let c_bin = cats(&[("a", 500), ("b", 300)]);
    let c_large = cats(&[("a", 5000), ("b", 3000)]);
    let c = ColumnData::Categorical;
    assert_eq!(
        cfg.choose(c(&c_small), c(&c_small)).unwrap(),
        TestKind::ChiSquare
    );
    assert_eq!(cfg.choose(c(&c_bin), c(&c_bin)).unwrap(), TestKind::ZTest);
    assert_eq!(
        cfg.choose(c(&c_large), c(&c_bin)).unwrap(),
        TestKind::JensenShannon
    );

    // Numeric columns with few values run categorical tests over value counts.
    let shifted: Vec<f64> = (0..900)
        .map(|i| ((i % 4) + usize::from(i % 3 == 0)) as f64)
        .collect();
    let col = cfg.test_column("few", n(&few), n(&shifted)).unwrap();
    assert_eq!(col.result.test, TestKind::ChiSquare);
    assert!(col.drifted());
    let col = cfg
        .test_column("few_large", n(&few_large), n(&few))
        .unwrap();
    assert_eq!(col.result.test, TestKind::JensenShannon);
    assert!(col.result.statistic.abs() < 1e-12);
}

#[test]
fn overrides_errors_and_dataset_verdict() {
    let a: Vec<f64> = (0..300).map(|i| (i as f64 * 0.37).sin()).collect();
    let b: Vec<f64> = a.iter().map(|v| v + 0.5).collect();
    let c1 = cats(&[("x", 10), ("y", 20)]);
    let mut cfg = DriftConfig::default();
    cfg.overrides.insert("psi_col".into(), TestKind::Psi);
    cfg.overrides
        .insert("bad".into(), TestKind::KolmogorovSmirnov);
    let col = cfg
        .test_column("psi_col", ColumnData::Numeric(&a), ColumnData::Numeric(&b))
        .unwrap();
    assert_eq!(col.result.test, TestKind::Psi);
    assert_eq!(col.kind, ColumnKind::Numeric);
    assert_eq!(
        cfg.test_column(
            "bad",
            ColumnData::Categorical(&c1),
            ColumnData::Categorical(&c1)
        )
        .unwrap_err(),
        Error::IncompatibleTest {
            column: "bad".into(),
            test: TestKind::KolmogorovSmirnov,
            kind: ColumnKind::Categorical
        }
    );
    assert_eq!(
        cfg.test_column(
            "mixed",
            ColumnData::Numeric(&a),
            ColumnData::Categorical(&c1)
        )
        .unwrap_err(),
        Error::ColumnKindMismatch {
            column: "mixed".into(),
            reference: ColumnKind::Numeric,
            current: ColumnKind::Categorical
        }
    );
    let err = cfg
        .test_column("age", ColumnData::Numeric(&a), ColumnData::Numeric(&[]))
        .unwrap_err();
    assert_eq!(
        err,
        Error::Column {
            column: "age".into(),
            source: Box::new(Error::EmptySample {
                sample: Sample::Current
            })
        }
    );
    assert!(err.to_string().contains("age"));

    let report = DriftConfig::default()
        .test_dataset([
            ("same", ColumnData::Numeric(&a), ColumnData::Numeric(&a)),
            ("shifted", ColumnData::Numeric(&a), ColumnData::Numeric(&b)),
            (
                "cat",
                ColumnData::Categorical(&c1),
                ColumnData::Categorical(&c1),
            ),
        ])
        .unwrap();
    assert_eq!(report.n_drifted, 1);
    assert!((report.share_drifted - 1.0 / 3.0).abs() < 1e-15);
    assert!(!report.drifted);
    let json = serde_json::to_string(&report).unwrap();
    let back: DatasetDrift = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let empty = DriftConfig::default().test_dataset([]).unwrap();
    assert_eq!((empty.share_drifted, empty.drifted), (0.0, false));
}

#[test]
fn config_and_results_round_trip_through_serde() {
    let mut cfg = DriftConfig {
        ks_alpha: 0.01,
        ..Default::default()
    };
    cfg.overrides.insert("a".into(), TestKind::LInfinity);
    let back: DriftConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    // Missing fields take the defaults.
    let partial: DriftConfig = serde_json::from_str(r#"{"wasserstein_threshold": 0.2}"#).unwrap();
    assert_eq!(
        partial,
        DriftConfig {
            wasserstein_threshold: 0.2,
            ..Default::default()
        }
    );
    let t = drift::ks_test(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0], 0.05).unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains("\"kolmogorov_smirnov\""), "{json}");
    assert_eq!(serde_json::from_str::<TestResult>(&json).unwrap(), t);
}

fn stream() -> Vec<f64> {
    (0..3000)
        .map(|i| {
            if i < 1500 {
                ((i * 7919) % 100) as f64 / 100.0
            } else {
                0.8 + ((i * 104_729) % 100) as f64 / 100.0
            }
        })
        .collect()
}

fn detections<D: DriftDetector>(d: &mut D, xs: &[f64]) -> Vec<(usize, DriftStatus)> {
    xs.iter()
        .enumerate()
        .filter_map(|(i, &x)| match d.update(x) {
            DriftStatus::Stable => None,
            s => Some((i, s)),
        })
        .collect()
}

fn check_checkpoint<D>(fresh: impl Fn() -> D, xs: &[f64])
where
    D: DriftDetector
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + PartialEq
        + std::fmt::Debug,
{
    let mut whole = fresh();
    let all = detections(&mut whole, xs);
    assert!(!all.is_empty(), "{} detects the shift", whole.name());
    // Stop half way, serialise, restore, continue: same detections.
    let (head, tail) = xs.split_at(1600);
    let mut first = fresh();
    let mut got = detections(&mut first, head);
    let json = serde_json::to_string(&first).unwrap();
    let mut restored: D = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, first);
    got.extend(
        detections(&mut restored, tail)
            .into_iter()
            .map(|(i, s)| (i + head.len(), s)),
    );
    assert_eq!(got, all);
    // Reset forgets everything.
    let mut d = fresh();
    let _ = detections(&mut d, head);
    d.reset();
    assert_eq!(detections(&mut d, xs), all);
    // Non-finite input is ignored by update and an error for try_update.
    let mut d = fresh();
    assert_eq!(d.update(f64::NAN), DriftStatus::Stable);
    assert_eq!(d, fresh());
    assert!(matches!(
        d.try_update(f64::INFINITY),
        Err(Error::InvalidObservation { .. })
    ));
}

#[test]
fn detectors_checkpoint_reset_and_reject_nan() {
    let xs = stream();
    check_checkpoint(Adwin::default, &xs);
    check_checkpoint(PageHinkley::default, &xs);
    let errors: Vec<f64> = (0..3000)
        .map(|i| f64::from(u8::from(if i < 1500 { i % 10 == 0 } else { i % 3 == 0 })))
        .collect();
    check_checkpoint(Ddm::default, &errors);
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Adwin>();
    assert_send_sync::<PageHinkley>();
    assert_send_sync::<Ddm>();
    assert_send_sync::<DriftConfig>();
    assert_send_sync::<DatasetDrift>();
    assert_send_sync::<Error>();
    let _boxed: Box<dyn DriftDetector + Send> = Box::new(Adwin::default());
}
