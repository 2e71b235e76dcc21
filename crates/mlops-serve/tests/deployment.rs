//! Deployment: atomic swaps under concurrent traffic, canary routing, shadow scoring, events and
//! following a registry alias.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use mlops_registry::{ModelMetadata, Registry};
use mlops_serve::deployment::routes_to_canary;
use mlops_serve::events::{ChannelSink, JsonlSink};
use mlops_serve::{Deployment, PredictionEvent, Record, Role, ServeError};

/// Expected probability per (version, record index).
fn expected(recs: &[Record]) -> BTreeMap<(u64, usize), u64> {
    let mut m = BTreeMap::new();
    for v in 0..3 {
        let p = predictor(v);
        for (i, r) in recs.iter().enumerate() {
            m.insert(
                (v as u64 + 1, i),
                p.predict(r, None).unwrap().probability.to_bits(),
            );
        }
    }
    m
}

#[test]
fn swaps_under_load_never_fail_or_tear() {
    let recs = records(&churn(200, 11));
    let want = expected(&recs);
    let dep = Arc::new(Deployment::new(predictor(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let preds: Vec<Arc<mlops_serve::Predictor>> = (0..3).map(|i| Arc::new(predictor(i))).collect();
    let swapper = {
        let (dep, stop, preds) = (Arc::clone(&dep), Arc::clone(&stop), preds.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                dep.promote_arc(Arc::clone(&preds[(swaps % 3) as usize]));
                if swaps.is_multiple_of(4) {
                    dep.rollback().unwrap();
                }
                swaps += 1;
                std::thread::yield_now();
            }
            swaps
        })
    };
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (dep, recs, want) = (Arc::clone(&dep), recs.clone(), want.clone());
            std::thread::spawn(move || {
                let mut seen = [0u64; 3];
                for k in 0..3000 {
                    let i = (k * 7 + t) % recs.len();
                    let p = dep.predict(&recs[i], None).unwrap();
                    assert_eq!(
                        want[&(p.version, i)],
                        p.probability.to_bits(),
                        "version {} record {i}",
                        p.version
                    );
                    seen[(p.version - 1) as usize] += 1;
                }
                seen
            })
        })
        .collect();
    let mut seen = [0u64; 3];
    for w in workers {
        let s = w.join().unwrap();
        for v in 0..3 {
            seen[v] += s[v];
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert_eq!(seen.iter().sum::<u64>(), 12_000);
    assert!(swaps > 10, "{swaps} swaps");
    assert!(seen.iter().filter(|&&n| n > 0).count() >= 2, "{seen:?}");
}

#[test]
fn promote_and_rollback() {
    let dep = Deployment::new(predictor(0));
    assert_eq!(dep.name(), "churn");
    assert!(matches!(dep.rollback(), Err(ServeError::NoPrevious { .. })));
    dep.promote(predictor(1));
    assert_eq!(dep.current().version(), 2);
    assert_eq!(dep.previous().unwrap().version(), 1);
    dep.rollback().unwrap();
    assert_eq!(dep.current().version(), 1);
    dep.rollback().unwrap();
    assert_eq!(dep.current().version(), 2);
    let r = record(&churn(5, 3), 0);
    assert_eq!(dep.predict_version(1, &r, None).unwrap().version, 1);
    assert_eq!(dep.predict_version(2, &r, None).unwrap().version, 2);
    assert_eq!(
        dep.predict_version(7, &r, None).unwrap_err(),
        ServeError::VersionNotFound {
            name: "churn".into(),
            version: 7
        }
    );
    assert_eq!(dep.versions(), vec![1, 2]);
}

#[test]
fn canary_routing_is_deterministic_by_key() {
    let recs = records(&churn(50, 12));
    let dep = Deployment::new(predictor(0));
    assert!(dep.set_canary(predictor(1), 1.5).is_err());
    assert!(dep.set_canary(predictor(1), f64::NAN).is_err());
    dep.set_canary(predictor(1), 0.25).unwrap();
    let mut canary = 0;
    for k in 0..4000 {
        let key = format!("user-{k}");
        let p = dep.predict(&recs[k % 50], Some(&key)).unwrap();
        assert_eq!(p.request_id, key);
        let again = dep.predict(&recs[k % 50], Some(&key)).unwrap();
        assert_eq!(p.version, again.version, "same key, same model");
        assert_eq!(p.version == 2, routes_to_canary(&key, 0.25));
        canary += usize::from(p.version == 2);
    }
    // Share 0.25 of 4000 keys: within 5 standard deviations (about 137).
    assert!((863..=1137).contains(&canary), "{canary}");
    // The hash is stable across runs and machines (fixed values).
    assert!(routes_to_canary("any", 1.0));
    assert!(!routes_to_canary("any", 0.0));
    dep.set_canary(predictor(1), 0.0).unwrap();
    assert!((0..200).all(|k| dep.predict(&recs[0], Some(&k.to_string())).unwrap().version == 1));
    dep.set_canary(predictor(1), 1.0).unwrap();
    assert!((0..200).all(|k| dep.predict(&recs[0], Some(&k.to_string())).unwrap().version == 2));
    // Promoting the canary's version clears the canary.
    dep.promote(predictor(1));
    assert!(dep.canary().is_none());
    dep.set_canary(predictor(2), 0.5).unwrap();
    dep.clear_canary();
    assert!(dep.canary().is_none());
}

#[test]
fn shadow_scores_off_the_hot_path_and_events_flow() {
    let recs = records(&churn(100, 13));
    let dep = Deployment::with_options(
        predictor(0),
        mlops_serve::DeploymentOptions {
            include_inputs: true,
            shadow_queue: 10_000,
        },
    );
    let (sink, rx) = ChannelSink::new(100_000);
    let sink = Arc::new(sink);
    dep.add_sink(sink.clone());
    dep.set_shadow(predictor(2));
    for (i, r) in recs.iter().enumerate() {
        let p = dep.predict(r, Some(&format!("k{i}"))).unwrap();
        assert_eq!(p.version, 1, "the shadow's answer is never returned");
    }
    let t = Instant::now();
    while dep.shadow_stats().scored < 100 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = dep.shadow_stats();
    assert_eq!(
        (stats.queued, stats.scored, stats.dropped, stats.failed),
        (100, 100, 0, 0)
    );
    let events: Vec<PredictionEvent> = rx.try_iter().collect();
    assert_eq!(events.len(), 200);
    let shadow = predictor(2);
    for e in &events {
        let i: usize = e.request_id[1..].parse().unwrap();
        assert_eq!(e.inputs.as_ref().unwrap(), &recs[i].0);
        match e.role {
            Role::Champion => assert_eq!(e.version, 1),
            Role::Shadow => {
                assert_eq!(e.version, 3);
                let want = shadow.predict(&recs[i], None).unwrap().probability;
                assert_eq!(e.probability.to_bits(), want.to_bits());
            }
            Role::Canary => panic!("no canary"),
        }
        assert_eq!(e.positive, e.label == "yes");
    }
    assert_eq!(sink.dropped(), 0);
    dep.clear_shadow();
    assert!(dep.shadow().is_none());
    dep.predict(&recs[0], None).unwrap();
    assert_eq!(dep.shadow_stats().queued, 100);
}

#[test]
fn a_full_shadow_queue_drops_and_counts() {
    let recs = records(&churn(10, 14));
    let dep = Deployment::with_options(
        predictor(0),
        mlops_serve::DeploymentOptions {
            include_inputs: false,
            shadow_queue: 1,
        },
    );
    dep.set_shadow(predictor(1));
    for k in 0..2000 {
        dep.predict(&recs[k % 10], None).unwrap();
    }
    let s = dep.shadow_stats();
    assert_eq!(s.queued + s.dropped, 2000);
    assert!(s.dropped > 0, "{s:?}");
}

#[test]
fn jsonl_sink_writes_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let dep = Deployment::new(predictor(0));
    let sink = Arc::new(JsonlSink::create(&path).unwrap());
    dep.add_sink(sink.clone());
    let recs = records(&churn(30, 15));
    for r in &recs {
        dep.predict(r, None).unwrap();
    }
    sink.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<PredictionEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 30);
    assert_eq!(sink.written(), 30);
    assert!(
        events
            .iter()
            .all(|e| e.inputs.is_none() && e.role == Role::Champion)
    );
}

#[test]
fn follows_a_registry_alias() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::open(dir.path()).unwrap());
    for b in bundles() {
        reg.register(
            "churn",
            b.to_bytes().unwrap(),
            ModelMetadata::default(),
            "test",
        )
        .unwrap();
    }
    reg.set_alias("churn", "prod", 1, None, "first").unwrap();
    let dep = Arc::new(
        Deployment::from_registry(&reg, "churn", mlops_registry::VersionRef::Alias("prod"))
            .unwrap(),
    );
    assert_eq!(dep.current().version(), 1);
    let handle = dep
        .follow_alias(Arc::clone(&reg), "churn", "prod", Duration::from_millis(20))
        .unwrap();
    let wait_for = |v: u64| {
        let t = Instant::now();
        while dep.current().version() != v && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(dep.current().version(), v);
    };
    reg.set_alias("churn", "prod", 3, Some(1), "promote")
        .unwrap();
    wait_for(3);
    // Another handle on the same directory (another process, say) moves it again.
    let other = Registry::open(dir.path()).unwrap();
    other
        .set_alias("churn", "prod", 2, Some(3), "again")
        .unwrap();
    wait_for(2);
    // The follower counts a reload just after the swap it made: give the counter a moment.
    let t = Instant::now();
    while handle.reloads() < 2 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(handle.reloads(), 2);
    assert_eq!(handle.errors(), 0, "{:?}", handle.last_error());
    let r = record(&churn(3, 1), 0);
    assert_eq!(dep.predict(&r, None).unwrap().version, 2);
    handle.stop();
    other
        .set_alias("churn", "prod", 1, Some(2), "after stop")
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        dep.current().version(),
        2,
        "a stopped follower does not reload"
    );
}

#[test]
fn deployment_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Deployment>();
    check::<Arc<Deployment>>();
}

#[test]
fn request_ids_apart_from_routing_keys() {
    let r = record(&churn(3, 2), 0);
    let dep = Deployment::new(predictor(0));
    dep.set_canary(predictor(1), 0.5).unwrap();
    let key = (0..100)
        .map(|k| format!("user-{k}"))
        .find(|k| routes_to_canary(k, 0.5))
        .unwrap();
    for n in 0..20 {
        let id = format!("req-{n}");
        let p = dep.predict_with_id(&r, Some(&key), Some(&id)).unwrap();
        assert_eq!((p.request_id.as_str(), p.version), (id.as_str(), 2));
    }
    let p = dep.predict_with_id(&r, None, Some("only-id")).unwrap();
    assert_eq!(p.request_id, "only-id");
    assert_eq!(p.version == 2, routes_to_canary("only-id", 0.5));
    let p = dep.predict_with_id(&r, None, None).unwrap();
    assert!(!p.request_id.is_empty());
}
