//! Sorting `f64` samples in `total_cmp` order: an LSD radix sort on order-preserving integer
//! keys for large inputs, the standard unstable sort for small ones.
//!
//! The result is exactly `v.sort_unstable_by(f64::total_cmp)`: two values compare equal under
//! `total_cmp` only when their bits are equal, so the sorted sequence is unique.

/// Below this length the comparison sort is faster than the radix passes.
const RADIX_MIN_LEN: usize = 4096;
const DIGIT_BITS: u32 = 8;
const RADIX: usize = 1 << DIGIT_BITS;
const MASK: u64 = (RADIX as u64) - 1;
/// `ceil(64 / 11)`.
const PASSES: usize = 8;

/// The `u64` whose unsigned order is `f64::total_cmp`'s order.
#[inline]
pub(crate) fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// The inverse of [`key`].
#[inline]
pub(crate) fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Sorts `v` in `f64::total_cmp` order.
pub(crate) fn sort_f64(v: &mut [f64]) {
    if v.len() < RADIX_MIN_LEN {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    if is_sorted(v) {
        return;
    }
    let mut keys: Vec<u64> = v.iter().map(|&x| key(x)).collect();
    radix_sort_keys(&mut keys);
    for (x, &k) in v.iter_mut().zip(&keys) {
        *x = unkey(k);
    }
}

/// A sorted copy of `data` (as [`sort_f64`], without sorting a copy in place).
pub(crate) fn sorted_copy(data: &[f64]) -> Vec<f64> {
    if data.len() < RADIX_MIN_LEN || is_sorted(data) {
        let mut v = data.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        return v;
    }
    let mut keys: Vec<u64> = data.iter().map(|&x| key(x)).collect();
    radix_sort_keys(&mut keys);
    keys.into_iter().map(unkey).collect()
}

fn is_sorted(v: &[f64]) -> bool {
    v.windows(2)
        .all(|w| matches!(w, [a, b] if a.total_cmp(b).is_le()))
}

/// LSD radix sort of `u64` keys, 11 bits per pass; passes where every key has the same digit
/// are skipped.
pub(crate) fn radix_sort_keys(keys: &mut Vec<u64>) {
    let n = keys.len();
    let mut hist = vec![[0_usize; RADIX]; PASSES];
    for &k in keys.iter() {
        for (p, h) in hist.iter_mut().enumerate() {
            let d = ((k >> (p as u32 * DIGIT_BITS)) & MASK) as usize;
            if let Some(c) = h.get_mut(d) {
                *c += 1;
            }
        }
    }
    let mut buf = vec![0_u64; n];
    let mut in_keys = true;
    for (p, h) in hist.iter().enumerate() {
        if h.contains(&n) {
            continue;
        }
        let mut offsets = [0_usize; RADIX];
        let mut sum = 0;
        for (o, &c) in offsets.iter_mut().zip(h.iter()) {
            *o = sum;
            sum += c;
        }
        let shift = p as u32 * DIGIT_BITS;
        let (src, dst) = if in_keys {
            (&keys[..], &mut buf[..])
        } else {
            (&buf[..], &mut keys[..])
        };
        for &k in src {
            let d = ((k >> shift) & MASK) as usize;
            if let Some(o) = offsets.get_mut(d) {
                if let Some(slot) = dst.get_mut(*o) {
                    *slot = k;
                }
                *o += 1;
            }
        }
        in_keys = !in_keys;
    }
    if !in_keys {
        std::mem::swap(keys, &mut buf);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s
        }
    }

    #[test]
    fn keys_preserve_total_order() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} {}", w[0], w[1]);
        }
        for &v in &vals {
            assert_eq!(unkey(key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn radix_matches_comparison_sort() {
        let mut next = lcg(3);
        for &n in &[0_usize, 1, 5, 4095, 4096, 10_000, 50_001] {
            // Mixed magnitudes, signs, zeros, duplicates and infinities.
            let mut v: Vec<f64> = (0..n)
                .map(|i| match next() % 7 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => (i % 13) as f64,
                    3 => f64::INFINITY,
                    4 => -((next() >> 11) as f64) * 1e-3,
                    _ => {
                        f64::from_bits(next() >> 2)
                            * if next().is_multiple_of(2) { 1.0 } else { -1.0 }
                    }
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable_by(f64::total_cmp);
            sort_f64(&mut v);
            let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v), bits(&expected), "n = {n}");
            // Already sorted input stays as is.
            sort_f64(&mut v);
            assert_eq!(bits(&v), bits(&expected));
            let mut shuffled = expected.clone();
            shuffled.reverse();
            assert_eq!(bits(&sorted_copy(&shuffled)), bits(&expected));
            assert_eq!(bits(&sorted_copy(&expected)), bits(&expected));
        }
        // Constant input: every pass skipped.
        let mut c = vec![2.5; 10_000];
        sort_f64(&mut c);
        assert!(c.iter().all(|&x| x == 2.5));
        let mut d: Vec<f64> = (0..10_000).rev().map(f64::from).collect();
        sort_f64(&mut d);
        assert!(d.windows(2).all(|w| w[0] < w[1]));
    }
}
