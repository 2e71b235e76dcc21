//! The registry state: a strict fold over the events of the log.

use std::collections::BTreeMap;

use mlops_core::{ContentHash, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Action, Event, LogHead};
use crate::model::{ModelMetadata, ModelQuery, ModelVersion};
use crate::tracking::{DatasetSnapshot, RunSummary};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionState {
    pub blob: ContentHash,
    pub size: u64,
    pub metadata: ModelMetadata,
    pub registered_ms: u64,
    pub actor: String,
    pub event_seq: u64,
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AliasState {
    pub target: u64,
    /// Earlier targets, oldest first; `rollback` pops the last one.
    pub history: Vec<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelState {
    /// Index `i` holds version `i + 1`.
    pub versions: Vec<VersionState>,
    pub aliases: BTreeMap<Name, AliasState>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// Hash of every event applied, index `seq - 1`.
    pub hashes: Vec<ContentHash>,
    pub models: BTreeMap<Name, ModelState>,
    /// Run `run-{i + 1}` at index `i`.
    pub runs: Vec<RunSummary>,
    pub datasets: BTreeMap<ContentHash, DatasetSnapshot>,
    /// Whether the initial listing of the log has been done.
    pub loaded: bool,
}

impl State {
    pub fn seq(&self) -> u64 {
        self.hashes.len() as u64
    }

    pub fn head(&self) -> Option<LogHead> {
        self.hashes.last().map(|&hash| LogHead {
            seq: self.seq(),
            hash,
        })
    }

    pub fn head_hash(&self) -> Option<ContentHash> {
        self.hashes.last().copied()
    }

    /// Checks the chain link and applies the event. On error the state is unchanged.
    pub fn apply(&mut self, event: &Event, hash: ContentHash) -> Result<()> {
        let seq = event.seq;
        if seq != self.seq() + 1 {
            return Err(Error::InvalidEvent {
                seq,
                reason: format!("expected event {}", self.seq() + 1),
            });
        }
        if event.prev != self.head_hash() {
            return Err(Error::ChainBroken {
                seq,
                expected: self.head_hash(),
                found: event.prev,
            });
        }
        let invalid = |reason: String| Error::InvalidEvent { seq, reason };
        match &event.action {
            Action::RegisterVersion {
                model,
                version,
                blob,
                size,
                metadata,
            } => {
                let m = self.models.entry(model.clone()).or_default();
                let expected = m.versions.len() as u64 + 1;
                if *version != expected {
                    if m.versions.is_empty() {
                        self.models.remove(model);
                    }
                    return Err(invalid(format!(
                        "registers version {version} of {model}, expected {expected}"
                    )));
                }
                m.versions.push(VersionState {
                    blob: *blob,
                    size: *size,
                    metadata: metadata.clone(),
                    registered_ms: event.time_ms,
                    actor: event.actor.clone(),
                    event_seq: seq,
                    archived: false,
                });
            }
            Action::SetAlias {
                model,
                alias,
                version,
                previous,
            } => {
                let m = self
                    .models
                    .get_mut(model)
                    .ok_or_else(|| invalid(format!("model {model} does not exist")))?;
                check_live(m, model, *version).map_err(|e| invalid(e.to_string()))?;
                let current = m.aliases.get(alias).map(|a| a.target);
                if current != *previous {
                    return Err(invalid(format!(
                        "says alias {alias} pointed at {previous:?}, it pointed at {current:?}"
                    )));
                }
                match m.aliases.get_mut(alias) {
                    Some(a) => {
                        if a.target != *version {
                            a.history.push(a.target);
                            a.target = *version;
                        }
                    }
                    None => {
                        m.aliases.insert(
                            alias.clone(),
                            AliasState {
                                target: *version,
                                history: Vec::new(),
                            },
                        );
                    }
                }
            }
            Action::Archive { model, version } => {
                let m = self
                    .models
                    .get_mut(model)
                    .ok_or_else(|| invalid(format!("model {model} does not exist")))?;
                check_live(m, model, *version).map_err(|e| invalid(e.to_string()))?;
                let users = aliases_of(m, *version);
                if !users.is_empty() {
                    return Err(invalid(format!(
                        "archives version {version} of {model} while aliases {users:?} point at it"
                    )));
                }
                if let Some(v) = m.versions.get_mut(index(*version)) {
                    v.archived = true;
                }
            }
            Action::RunLogged {
                run,
                experiment,
                blob,
                size,
                metrics,
            } => {
                let expected = run_id(self.runs.len() as u64 + 1);
                if run.as_str() != expected {
                    return Err(invalid(format!("logs run {run}, expected {expected}")));
                }
                self.runs.push(RunSummary {
                    run: run.clone(),
                    experiment: experiment.clone(),
                    metrics: metrics.clone(),
                    blob: *blob,
                    size: *size,
                    logged_ms: event.time_ms,
                    actor: event.actor.clone(),
                    event_seq: seq,
                });
            }
            Action::DatasetAdded {
                fingerprint,
                name,
                blob,
                size,
            } => {
                if self.datasets.contains_key(fingerprint) {
                    return Err(invalid(format!("dataset {fingerprint} is already stored")));
                }
                self.datasets.insert(
                    *fingerprint,
                    DatasetSnapshot {
                        fingerprint: *fingerprint,
                        name: name.clone(),
                        blob: *blob,
                        size: *size,
                        added_ms: event.time_ms,
                        actor: event.actor.clone(),
                        event_seq: seq,
                    },
                );
            }
            Action::Rollback {
                model,
                alias,
                from,
                to,
            } => {
                let m = self
                    .models
                    .get_mut(model)
                    .ok_or_else(|| invalid(format!("model {model} does not exist")))?;
                let (target, previous) = match m.aliases.get(alias) {
                    Some(a) => (a.target, a.history.last().copied()),
                    None => {
                        return Err(invalid(format!("alias {alias} of {model} does not exist")));
                    }
                };
                if target != *from || previous != Some(*to) {
                    return Err(invalid(format!(
                        "rolls alias {alias} back from {from} to {to}, but it points at {target} with previous target {previous:?}"
                    )));
                }
                check_live(m, model, *to).map_err(|e| invalid(e.to_string()))?;
                if let Some(a) = m.aliases.get_mut(alias) {
                    a.history.pop();
                    a.target = *to;
                }
            }
        }
        self.hashes.push(hash);
        Ok(())
    }

    pub fn model(&self, name: &Name) -> Result<&ModelState> {
        self.models.get(name).ok_or_else(|| Error::ModelNotFound {
            model: name.clone(),
        })
    }

    pub fn view(&self, name: &Name, m: &ModelState, version: u64) -> Result<ModelVersion> {
        let v = m
            .versions
            .get(index(version))
            .ok_or_else(|| Error::VersionNotFound {
                model: name.clone(),
                version,
            })?;
        Ok(ModelVersion {
            model: name.clone(),
            version,
            blob: v.blob,
            size: v.size,
            metadata: v.metadata.clone(),
            registered_ms: v.registered_ms,
            actor: v.actor.clone(),
            event_seq: v.event_seq,
            archived: v.archived,
            aliases: aliases_of(m, version),
        })
    }

    pub fn search(&self, q: &ModelQuery) -> Result<Vec<ModelVersion>> {
        let model_filter = q
            .model
            .as_deref()
            .map(|n| crate::error::name("model", n))
            .transpose()?;
        let tag_filter = match &q.tag {
            Some((k, v)) => Some((crate::error::name("tag", k)?, v.clone())),
            None => None,
        };
        let mut out = Vec::new();
        for (name, m) in &self.models {
            if model_filter.as_ref().is_some_and(|f| f != name) {
                continue;
            }
            for (i, v) in m.versions.iter().enumerate() {
                if v.archived && !q.include_archived {
                    continue;
                }
                if let Some((k, want)) = &tag_filter {
                    match v.metadata.tags.get(k) {
                        None => continue,
                        Some(have) if want.as_ref().is_some_and(|w| w != have) => continue,
                        Some(_) => {}
                    }
                }
                let in_bounds = q.metric_bounds.iter().all(|(metric, lo, hi)| {
                    v.metadata
                        .metrics
                        .get(metric)
                        .is_some_and(|x| *x >= *lo && *x <= *hi)
                });
                if !in_bounds {
                    continue;
                }
                out.push(self.view(name, m, i as u64 + 1)?);
            }
        }
        if let Some(metric) = &q.order_by {
            // Stable sort keeps (model, version) order among ties and among versions without it.
            out.sort_by(|a, b| {
                let x = a.metadata.metrics.get(metric);
                let y = b.metadata.metrics.get(metric);
                match (x, y) {
                    (Some(x), Some(y)) => y.total_cmp(x),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
        }
        if let Some(n) = q.limit {
            out.truncate(n);
        }
        Ok(out)
    }
}

/// The id of the `n`-th run.
pub(crate) fn run_id(n: u64) -> String {
    format!("run-{n}")
}

impl State {
    /// Every blob the state references (model bundles, run records, dataset snapshots).
    pub fn referenced_blobs(&self) -> std::collections::BTreeSet<ContentHash> {
        let models = self
            .models
            .values()
            .flat_map(|m| m.versions.iter().map(|v| v.blob));
        let runs = self.runs.iter().map(|r| r.blob);
        let datasets = self.datasets.values().map(|d| d.blob);
        models.chain(runs).chain(datasets).collect()
    }

    /// A run by id.
    pub fn run(&self, id: &Name) -> Result<&RunSummary> {
        id.as_str()
            .strip_prefix("run-")
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|n| self.runs.get(index(n)))
            .filter(|r| r.run == *id)
            .ok_or_else(|| Error::RunNotFound { run: id.clone() })
    }
}

/// Vector index of a version number (version 0 maps past the end).
pub(crate) fn index(version: u64) -> usize {
    usize::try_from(version.wrapping_sub(1)).unwrap_or(usize::MAX)
}

/// Sorted aliases pointing at `version`.
pub(crate) fn aliases_of(m: &ModelState, version: u64) -> Vec<Name> {
    m.aliases
        .iter()
        .filter(|(_, a)| a.target == version)
        .map(|(n, _)| n.clone())
        .collect()
}

/// The version exists and is not archived.
pub(crate) fn check_live(m: &ModelState, model: &Name, version: u64) -> Result<()> {
    match m.versions.get(index(version)) {
        None => Err(Error::VersionNotFound {
            model: model.clone(),
            version,
        }),
        Some(v) if v.archived => Err(Error::VersionArchived {
            model: model.clone(),
            version,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use mlops_core::hash_bytes;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    /// Appends an event with a correct chain link; returns the result of applying it.
    fn push(st: &mut State, action: Action) -> Result<()> {
        let ev = Event {
            seq: st.seq() + 1,
            prev: st.head_hash(),
            time_ms: 1,
            actor: "t".into(),
            target: action.target(),
            reason: String::new(),
            action,
        };
        let hash = hash_bytes(&serde_json::to_vec(&ev).unwrap());
        st.apply(&ev, hash)
    }

    fn register(model: &str, version: u64) -> Action {
        Action::RegisterVersion {
            model: n(model),
            version,
            blob: hash_bytes(&version.to_le_bytes()),
            size: 8,
            metadata: ModelMetadata::default(),
        }
    }

    #[test]
    fn chain_and_sequence_are_enforced() {
        let mut st = State::default();
        push(&mut st, register("m", 1)).unwrap();
        let mut ev = Event {
            seq: 2,
            prev: None,
            time_ms: 0,
            actor: "t".into(),
            target: String::new(),
            reason: String::new(),
            action: register("m", 2),
        };
        assert!(matches!(
            st.apply(&ev, hash_bytes(b"x")),
            Err(Error::ChainBroken { seq: 2, .. })
        ));
        ev.seq = 3;
        ev.prev = st.head_hash();
        assert!(matches!(
            st.apply(&ev, hash_bytes(b"x")),
            Err(Error::InvalidEvent { seq: 3, .. })
        ));
        assert_eq!(st.seq(), 1);
    }

    #[test]
    fn forged_events_with_valid_links_are_rejected_without_changing_state() {
        let mut st = State::default();
        // A gap or a duplicate version.
        assert!(matches!(
            push(&mut st, register("m", 2)),
            Err(Error::InvalidEvent { .. })
        ));
        assert!(st.models.is_empty(), "no phantom model left behind");
        push(&mut st, register("m", 1)).unwrap();
        assert!(push(&mut st, register("m", 1)).is_err());
        let alias = |version, previous| Action::SetAlias {
            model: n("m"),
            alias: n("a"),
            version,
            previous,
        };
        assert!(push(&mut st, alias(5, None)).is_err(), "missing version");
        assert!(push(&mut st, alias(1, Some(1))).is_err(), "wrong previous");
        assert!(
            push(
                &mut st,
                Action::SetAlias {
                    model: n("zz"),
                    alias: n("a"),
                    version: 1,
                    previous: None
                }
            )
            .is_err(),
            "missing model"
        );
        push(&mut st, alias(1, None)).unwrap();
        let rollback = |from, to| Action::Rollback {
            model: n("m"),
            alias: n("a"),
            from,
            to,
        };
        assert!(
            push(&mut st, rollback(1, 1)).is_err(),
            "nothing to roll back to"
        );
        push(&mut st, register("m", 2)).unwrap();
        push(&mut st, alias(2, Some(1))).unwrap();
        assert!(push(&mut st, rollback(2, 2)).is_err());
        let archive = |version| Action::Archive {
            model: n("m"),
            version,
        };
        assert!(push(&mut st, archive(2)).is_err(), "alias points at it");
        push(&mut st, rollback(2, 1)).unwrap();
        push(&mut st, archive(2)).unwrap();
        assert!(push(&mut st, archive(2)).is_err(), "already archived");
        assert!(push(&mut st, alias(2, Some(1))).is_err(), "archived target");
        assert_eq!(st.seq(), 6);
        let m = st.model(&n("m")).unwrap();
        assert_eq!(m.aliases[&n("a")].target, 1);
        assert!(m.versions[1].archived);
    }

    #[test]
    fn index_handles_zero_and_huge_versions() {
        assert_eq!(index(1), 0);
        assert_eq!(index(0), usize::MAX);
        let st = State::default();
        assert!(st.head().is_none());
    }
}
