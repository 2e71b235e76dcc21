//! Criterion benches of the drift hot paths (work in progress).
#![allow(missing_docs)]
use criterion::{Criterion, criterion_group, criterion_main};
fn benches(_c: &mut Criterion) {}
criterion_group!(g, benches);
criterion_main!(g);
