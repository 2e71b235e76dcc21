//! Real multi-process tests: this test binary re-invokes itself as writer processes, on a local
//! directory and, with the `s3` feature and `MLOPS_REGISTRY_S3_ENDPOINT` set, on S3 (see
//! `tests/support/s3.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use mlops_registry::core::hash_bytes;
use mlops_registry::{Action, ModelMetadata, Registry, RegistryOptions, VersionRef};

#[cfg(feature = "s3")]
#[path = "support/s3.rs"]
mod s3;

const DIR_ENV: &str = "MLOPS_REGISTRY_TEST_CHILD_DIR";
/// Set instead of the directory: the child writes to S3 under this key prefix.
const S3_PREFIX_ENV: &str = "MLOPS_REGISTRY_TEST_CHILD_S3_PREFIX";
const ID_ENV: &str = "MLOPS_REGISTRY_TEST_CHILD_ID";
const COUNT_ENV: &str = "MLOPS_REGISTRY_TEST_CHILD_COUNT";

fn bundle(id: &str, i: u64) -> Vec<u8> {
    format!("bundle of writer {id}, registration {i}").into_bytes()
}

/// The child side: does nothing unless started by one of the tests below.
#[test]
fn child_writer() {
    let (Ok(id), Ok(count)) = (std::env::var(ID_ENV), std::env::var(COUNT_ENV)) else {
        return;
    };
    let count: u64 = count.parse().unwrap();
    let target = match (std::env::var(DIR_ENV), std::env::var(S3_PREFIX_ENV)) {
        (Ok(dir), _) => Target::Dir(dir.into()),
        (_, Ok(prefix)) => Target::S3(prefix),
        _ => return,
    };
    let reg = target.open(&format!("proc-{id}"));
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let v = reg
            .register(
                "shared",
                bundle(&id, i),
                ModelMetadata::default().with_metric("i", i as f64),
                "process test",
            )
            .unwrap();
        // Acknowledged: printed only after `register` returned.
        writeln!(out, "ACK {id} {i} {}", v.version).unwrap();
        out.flush().unwrap();
    }
}

/// Where the processes write.
#[derive(Clone, Debug)]
enum Target {
    Dir(std::path::PathBuf),
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    S3(String),
}

impl Target {
    fn open(&self, actor: &str) -> Registry {
        let opts = RegistryOptions::default().with_actor(actor);
        match self {
            Target::Dir(dir) => Registry::open_with(dir, opts).unwrap(),
            #[cfg(feature = "s3")]
            Target::S3(prefix) => {
                Registry::from_store(s3::store_at(prefix).unwrap(), opts).unwrap()
            }
            #[cfg(not(feature = "s3"))]
            Target::S3(_) => unreachable!("S3 targets need the s3 feature"),
        }
    }
}

fn spawn_child(dir: &std::path::Path, id: &str, count: u64) -> std::process::Child {
    spawn_child_at(&Target::Dir(dir.to_path_buf()), id, count)
}

fn spawn_child_at(target: &Target, id: &str, count: u64) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_writer",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ]);
    match target {
        Target::Dir(dir) => cmd.env(DIR_ENV, dir).env_remove(S3_PREFIX_ENV),
        Target::S3(prefix) => cmd.env(S3_PREFIX_ENV, prefix).env_remove(DIR_ENV),
    };
    cmd.env(ID_ENV, id)
        .env(COUNT_ENV, count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Parses complete `ACK id i version` lines.
fn acks(stdout: impl std::io::Read) -> Vec<(String, u64, u64)> {
    std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let parts: Vec<&str> = l.strip_prefix("ACK ")?.split(' ').collect();
            match parts[..] {
                [id, i, v] => Some((id.to_owned(), i.parse().ok()?, v.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn eight_processes_fifty_registrations_each() {
    let dir = tempfile::tempdir().unwrap();
    eight_by_fifty(&Target::Dir(dir.path().to_path_buf()));
}

/// The same on S3 (skipped, with a note, unless `MLOPS_REGISTRY_S3_ENDPOINT` is set).
#[cfg(feature = "s3")]
#[test]
fn eight_processes_fifty_registrations_each_s3() {
    if s3::endpoint().is_none() {
        eprintln!("MLOPS_REGISTRY_S3_ENDPOINT not set: S3 process test skipped");
        return;
    }
    let prefix = format!(
        "processes-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    eight_by_fifty(&Target::S3(prefix));
}

/// 8 processes register 50 versions each at once; every acknowledged registration is there,
/// versions are gapless, the log verifies.
fn eight_by_fifty(target: &Target) {
    let (writers, per) = (8u64, 50u64);
    let children: Vec<_> = (0..writers)
        .map(|w| spawn_child_at(target, &w.to_string(), per))
        .collect();
    let mut acked = Vec::new();
    for mut child in children {
        acked.extend(acks(child.stdout.take().unwrap()));
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(acked.len() as u64, writers * per);

    let reg = target.open("checker");
    let versions = reg.versions("shared").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=writers * per).collect::<Vec<_>>()
    );
    // Every acknowledged registration is the version it was told, with its own bytes.
    for (id, i, version) in &acked {
        assert_eq!(
            versions[(*version - 1) as usize].blob,
            hash_bytes(&bundle(id, *i))
        );
        assert_eq!(
            versions[(*version - 1) as usize].actor,
            format!("proc-{id}")
        );
    }
    // Every event present exactly once, 50 per writer, chain valid, all blobs intact.
    let events = reg.events().unwrap();
    assert_eq!(events.len() as u64, writers * per);
    let mut per_actor: BTreeMap<String, u64> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert!(matches!(e.action, Action::RegisterVersion { .. }));
        *per_actor.entry(e.actor.clone()).or_default() += 1;
    }
    assert_eq!(per_actor.len() as u64, writers);
    assert!(per_actor.values().all(|&n| n == per), "{per_actor:?}");
    let report = reg.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        (report.events, report.blobs),
        (writers * per, writers * per)
    );
}

#[test]
fn killed_writers_lose_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    // Kill writers at different moments; each round two writers race, one is killed.
    for (round, delay_ms) in [30u64, 80, 150, 250, 400].into_iter().enumerate() {
        let mut victim = spawn_child(dir.path(), &format!("victim{round}"), 1_000_000);
        let mut survivor = spawn_child(dir.path(), &format!("survivor{round}"), 20);
        std::thread::sleep(Duration::from_millis(delay_ms));
        victim.kill().unwrap();
        let victim_acks = acks(victim.stdout.take().unwrap());
        victim.wait().unwrap();
        acked.extend(victim_acks);
        acked.extend(acks(survivor.stdout.take().unwrap()));
        assert!(survivor.wait().unwrap().success());

        let reg = Registry::open(dir.path()).unwrap();
        let report = reg.verify().unwrap();
        assert!(report.is_ok(), "round {round}: {report:?}");
        let versions = reg.versions("shared").unwrap();
        for (id, i, version) in &acked {
            let v = &versions[(*version - 1) as usize];
            assert_eq!(
                v.blob,
                hash_bytes(&bundle(id, *i)),
                "round {round}: lost ack {id} {i}"
            );
        }
        // The registry stays writable after the kill.
        let next = reg
            .register("shared", b"after".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        assert_eq!(next.version, versions.len() as u64 + 1);
        assert_eq!(
            reg.load("shared", VersionRef::Latest).unwrap().1.as_ref(),
            b"after"
        );
    }
    assert!(
        acked.iter().any(|(id, _, _)| id.starts_with("victim")),
        "no victim got anything acknowledged"
    );
}
