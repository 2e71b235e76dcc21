//! Distribution of the Kolmogorov–Smirnov statistics, ported from scipy.
//!
//! - [`prob_outside_square`] and [`outer_prob_inside`]: the exact two-sample null distribution
//!   (scipy `_compute_prob_outside_square`, `_compute_outer_prob_inside_method`; Hodges 1958 and
//!   Viehmann 2021's `1 - p` recursion).
//! - [`kstwo_sf`]: the survival function of the one-sample two-sided statistic `D_n`
//!   (scipy `stats.kstwo.sf`, Simard & L'Ecuyer 2011), which scipy's `ks_2samp` uses for its
//!   asymptotic path with `n = round(m n / (m + n))`.
//!
//! Every function here is total: out-of-range arguments give NaN (callers treat NaN as "exact
//! computation failed" exactly as scipy does), never a panic.

const E128: i32 = 128;
const EP128: f64 = 3.402_823_669_209_385e38; // 2^128
const EM128: f64 = 2.938_735_877_055_719e-39; // 2^-128
const LOG_2PI: f64 = 1.837_877_066_409_345_5;
const SQRT2PI: f64 = 2.506_628_274_631_000_7;
const MIN_LOG: f64 = -708.0;
const PI2: f64 = std::f64::consts::PI * std::f64::consts::PI;
const SQRT3: f64 = 1.732_050_807_568_877_2;
/// cephes `MINLOG`: `exp` of anything below this underflows.
const CEPHES_MINLOG: f64 = -7.083_964_185_322_641e2;
const SMIRNOV_MAX_COMPUTE_N: i64 = 1_000_000;

/// `2^e * x` without overflow in the intermediate power (`ldexp`).
fn ldexp(x: f64, e: i32) -> f64 {
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// Probability that a path of the `n`×`n` two-sample lattice leaves the band `|x - y| < h`
/// (`P(D_{n,n} >= h/n)`), scipy's `_compute_prob_outside_square`.
pub(crate) fn prob_outside_square(n: i64, h: i64) -> f64 {
    if h <= 0 || n <= 0 {
        return f64::NAN;
    }
    let mut p = 0.0_f64;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0_f64;
        for j in 0..h {
            p1 = ((n - k * h - j) as f64) * p1 / ((n + k * h + j + 1) as f64);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -(-a).div_euclid(b)
}

/// Proportion of lattice paths from (0,0) to (m,n) that do not stay strictly inside
/// `|x/m - y/n| < h / lcm(m, n)`; scipy's `_compute_outer_prob_inside_method`.
pub(crate) fn outer_prob_inside(m: i64, n: i64, g: i64, h: i64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    if n <= 0 || g <= 0 {
        return f64::NAN;
    }
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1);
    let Ok(len_a) = usize::try_from(len_a) else {
        return f64::NAN;
    };
    let mut a = vec![1.0_f64; len_a];
    for v in a.iter_mut().take(usize::try_from(maxj).unwrap_or(0)) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let src = usize::try_from(jj + minj - lastminj)
                .ok()
                .and_then(|k| a.get(k).copied());
            let Some(prev) = src else {
                return f64::NAN;
            };
            val = (prev * i as f64 + val * j as f64) / ((i + j) as f64);
            let Some(slot) = usize::try_from(jj).ok().and_then(|k| a.get_mut(k)) else {
                return f64::NAN;
            };
            *slot = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let lo = usize::try_from(maxj - minj)
                .unwrap_or(usize::MAX)
                .min(len_a);
            let hi = usize::try_from(maxj - minj + (lastlen - curlen))
                .unwrap_or(usize::MAX)
                .min(len_a);
            for v in a.iter_mut().take(hi).skip(lo) {
                *v = 1.0;
            }
        }
    }
    usize::try_from(maxj - minj - 1)
        .ok()
        .and_then(|k| a.get(k).copied())
        .unwrap_or(f64::NAN)
}

fn clip01(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `log(n! / n^n)` by Stirling's series (scipy `_log_nfactorial_div_n_pow_n`).
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // B_{2j} / (2j) / (2j - 1), j = 8..1 (as f64).
    const STIRLING: [f64; 8] = [
        -0.029_550_653_594_771_242,
        0.006_410_256_410_256_41,
        -0.001_917_526_917_526_917_6,
        0.000_841_750_841_750_841_7,
        -0.000_595_238_095_238_095_3,
        0.000_793_650_793_650_793_7,
        -0.002_777_777_777_777_778,
        0.083_333_333_333_333_33,
    ];
    let rn = 1.0 / n;
    let z = rn / n;
    let mut poly = 0.0;
    for c in STIRLING {
        poly = poly * z + c;
    }
    n.ln() / 2.0 - n + LOG_2PI / 2.0 + rn * poly
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..m {
                out[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    out
}

/// `P(D_n <= d)` by the Durbin matrix algorithm as arranged by Marsaglia, Tsang & Wang
/// (scipy `_kolmogn_DMTW`).
fn kolmogn_dmtw_cdf(n: i64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut hm = vec![0.0_f64; m * m];
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0_f64; m];
    let mut fac = 1.0_f64;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    for i in 1..m {
        for (r, wv) in ((i - 1)..m).zip(w.iter()) {
            hm[r * m + i] = *wv;
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut hpwr = vec![0.0_f64; m * m];
    for i in 0..m {
        hpwr[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut hexpnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hpwr = matmul(&hpwr, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for x in hm.iter_mut() {
                *x /= EP128;
            }
            hexpnt += E128;
        }
        nn /= 2;
    }
    let mut p = hpwr[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / n as f64;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    clip01(p)
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let ip1div2 = (i + 1) / 2;
        let ip1mod2 = (i + 1) % 2;
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `P(D_n <= x)` by Pomeranz's recursion (scipy `_kolmogn_Pomeranz`).
fn kolmogn_pomeranz_cdf(n: i64, x: f64) -> f64 {
    let t = n as f64 * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![0.0_f64; npwrs];
    let mut twogpower = vec![0.0_f64; npwrs];
    let mut onem2gpower = vec![0.0_f64; npwrs];
    gpower[0] = 1.0;
    twogpower[0] = 1.0;
    onem2gpower[0] = 1.0;
    let mut expnt: i32 = 0;
    let nf = n as f64;
    let (g_over_n, two_g_over_n, one_minus_two_g_over_n) =
        (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_over_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / m as f64;
    }
    let mut v0 = vec![0.0_f64; npwrs];
    let mut v1 = vec![0.0_f64; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s): (i64, i64) = (0, 0);
    let (mut j1, mut _j2) = pomeranz_j1j2(0, n, ll, ceilf, roundf);
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|x| *x = 0.0);
        let (nj1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        j1 = nj1;
        _j2 = j2;
        let pwrs = if i == 1 || i == 2 * n + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            // Offsets are non-negative by construction; bail out (NaN) rather than wrap if not.
            let (Ok(ln2u), Ok(start), Ok(conv_start)) = (
                usize::try_from(ln2),
                usize::try_from(k1 - v0s),
                usize::try_from(j1 - k1),
            ) else {
                return f64::NAN;
            };
            // np.convolve(V0[start:start+ln2], pwrs[:ln2]) (full mode); numpy slices clamp at the end.
            let av: &[f64] = v0.get(start..(start + ln2u).min(npwrs)).unwrap_or(&[]);
            let bv: &[f64] = pwrs.get(..ln2u.min(npwrs)).unwrap_or(&[]);
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            for (idx, slot) in v1.iter_mut().enumerate().take(conv_len) {
                let c = conv_start + idx;
                // full convolution element c: sum_k a[k] * b[c-k]
                let mut s = 0.0;
                let kmin = c.saturating_sub(bv.len().saturating_sub(1));
                let kmax = c.min(av.len().saturating_sub(1));
                if !av.is_empty() && !bv.is_empty() && kmin <= kmax {
                    for kk in kmin..=kmax {
                        s += av[kk] * bv[c - kk];
                    }
                }
                *slot = s;
            }
            let vmax = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < vmax && vmax < EM128 {
                v1.iter_mut().for_each(|x| *x *= EP128);
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = usize::try_from(n - v1s)
        .ok()
        .and_then(|k| v1.get(k).copied())
        .unwrap_or(f64::NAN);
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    clip01(ans)
}

/// Pelz–Good approximation of `P(D_n <= x)` (scipy `_kolmogn_PelzGood`).
fn kolmogn_pelz_good_cdf(n: i64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (zsquared, zthree, zfour, zsix) = (z.powi(2), z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI2 / 8.0 / zsquared;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let pi4 = PI2 * PI2;
    let pi6 = pi4 * PI2;
    let k1a = -zsquared;
    let k1b = PI2 / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * PI2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = pi4 * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = PI2 * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powi(8);
    let mut k = [0.0_f64; 4];
    let maxk = (16.0 * z / std::f64::consts::PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (msq, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * kk) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * msq,
            k2a + k2b * msq + k2c * m4,
            k3a + k3b * msq + k3c * m4 + k3d * m6,
        ];
        for (ki, c) in k.iter_mut().zip(coeffs) {
            *ki *= qpower;
            *ki += c;
        }
    }
    let denoms = [z, 6.0 * zfour, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (ki, d) in k.iter_mut().zip(denoms) {
        *ki *= q;
        *ki *= SQRT2PI;
        *ki /= d;
    }
    let q2 = (-PI2 / 2.0 / zsquared).exp();
    let sqrt3z = SQRT3 * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for kk in (1..=maxk).rev() {
        let ks = kk as f64;
        let ksq = ks * ks;
        let qp = q2.powf(ksq);
        k2extra += ksq * qp;
        let kspi = std::f64::consts::PI * ks;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k2extra *= PI2 * SQRT2PI / (-36.0 * zthree);
    k[2] += k2extra;
    k3extra *= PI2 * SQRT2PI / (216.0 * zsix);
    k[3] += k3extra;
    for (i, ki) in k.iter_mut().enumerate() {
        *ki /= nf.powf(i as f64 / 2.0);
    }
    k.iter().sum()
}

/// Neumaier-compensated accumulator.
#[derive(Default)]
struct Compensated {
    sum: f64,
    c: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.c += (self.sum - t) + x;
        } else {
            self.c += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// `floor(n x)` and the fractional part, computed exactly (cephes `modNX`).
fn mod_nx(n: i64, x: f64) -> (i64, f64) {
    let nf = n as f64;
    let hi = nf * x;
    let lo = nf.mul_add(x, -hi);
    let mut fl = hi.floor();
    let mut alpha = (hi - fl) + lo;
    if alpha < 0.0 {
        fl -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        fl += 1.0;
        alpha = 0.0;
    }
    (fl as i64, alpha)
}

/// One-sided Smirnov survival function `P(D_n^+ >= x)` (scipy `special.smirnov`), for the
/// arguments `kolmogn` calls it with (`n x >= 2`, where xsf uses the lower Birnbaum–Tingey sum).
/// Terms are summed in log space with compensated accumulation, which keeps the relative error
/// near `n · 1e-16` instead of xsf's double-double arithmetic.
pub(crate) fn smirnov_sf(n: i64, x: f64) -> f64 {
    if !(n > 0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nxfl, alpha) = mod_nx(n, x);
    let mut n1mxfl = n - nxfl - i64::from(alpha != 0.0);
    if alpha == 0.0 {
        n1mxfl -= 1;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let cdf = x * ((nf - 1.0) * x.ln_1p()).exp();
        return clip01(1.0 - cdf);
    }
    if -2.0 * nf * x * x < CEPHES_MINLOG {
        return 0.0;
    }
    if nxfl >= n - 1 {
        return clip01((nf * (-x).ln_1p()).exp());
    }
    if n > SMIRNOV_MAX_COMPUTE_N {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        let sf = if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
        return clip01(sf);
    }
    // Lower sum: sf = x * sum_{v=0}^{n1mxfl} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1).
    let n_terms = n1mxfl + 1;
    let vmid = n / 2;
    let term_log = |v: i64, ln_c: f64| -> f64 {
        let s = x + v as f64 / nf;
        let ln_t2 = if s < 0.5 {
            (-s).ln_1p()
        } else {
            ((n - v) as f64 / nf - x).ln()
        };
        ln_c + (n - v) as f64 * ln_t2 + (v - 1) as f64 * s.ln()
    };
    // Running sum represented as exp(ref_log) * acc.
    let first = nf * (-x).ln_1p() - x.ln();
    let mut ref_log = first;
    let mut acc = Compensated::default();
    acc.add(1.0);
    let mut ln_c = Compensated::default();
    ln_c.add(nf.ln()); // C(n, 1)
    for j in 1..n_terms {
        let l = term_log(j, ln_c.value());
        let aj_zero = l < -745.2;
        if !aj_zero {
            if l > ref_log + 600.0 {
                let scaled = acc.value() * (ref_log - l).exp();
                acc = Compensated::default();
                acc.add(scaled);
                acc.add(1.0);
                ref_log = l;
            } else {
                acc.add((l - ref_log).exp());
            }
            // 4 (nTerms - j) |Aj| < eps * AjSum, in logs.
            let lhs = (4.0 * (n_terms - j) as f64).ln() + l;
            let rhs = f64::EPSILON.ln() + acc.value().ln() + ref_log;
            if lhs < rhs && j != n_terms - 1 {
                break;
            }
        } else if j > vmid {
            break;
        }
        ln_c.add(((n - j) as f64 / (j as f64 + 1.0)).ln());
    }
    let ln_prob = x.ln() + acc.value().ln() + ref_log;
    clip01(ln_prob.exp())
}

/// Survival function of the one-sample two-sided KS statistic `D_n` at `x`, scipy's
/// `stats.kstwo.sf(x, n)` (support `(1/(2n), 1)`, Simard & L'Ecuyer's choice of method).
pub(crate) fn kstwo_sf(n: i64, x: f64) -> f64 {
    if n <= 0 || x.is_nan() {
        return f64::NAN;
    }
    let nf = n as f64;
    if x <= 0.5 / nf {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            let mut p = 1.0;
            for i in 1..=n {
                p *= i as f64 * (1.0 / nf) * (2.0 * t - 1.0);
            }
            p
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip01(1.0 - prob);
    }
    if t >= nf - 1.0 {
        return clip01(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip01(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip01(1.0 - kolmogn_dmtw_cdf(n, x));
        }
        if nxsquared <= 4.0 {
            return clip01(1.0 - kolmogn_pomeranz_cdf(n, x));
        }
        return clip01(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip01(2.0 * smirnov_sf(n, x));
    }
    let cdf = if nxsquared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        kolmogn_dmtw_cdf(n, x)
    } else {
        clip01(kolmogn_pelz_good_cdf(n, x))
    };
    clip01(1.0 - cdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_square_is_a_probability() {
        for n in [1_i64, 2, 5, 50] {
            for h in 1..=n {
                let p = prob_outside_square(n, h);
                assert!((0.0..=1.0 + 1e-12).contains(&p), "n={n} h={h} p={p}");
            }
        }
        // h = n: only the two extreme paths leave the band: 2 / C(2n, n).
        assert!((prob_outside_square(3, 3) - 2.0 / 20.0).abs() < 1e-15);
    }

    #[test]
    fn kstwo_sweep_is_a_decreasing_probability() {
        // Every branch (Ruben-Gambino, DMTW, Pomeranz, Pelz-Good, Smirnov) over a grid of n and x.
        for n in (1..=160).chain([500, 5_000, 100_000, 150_000, 2_000_000]) {
            let mut last = 1.0_f64;
            for i in 0..=400 {
                let x = f64::from(i) / 400.0;
                let p = kstwo_sf(n, x);
                assert!((0.0..=1.0).contains(&p), "n={n} x={x} p={p}");
                assert!(p <= last + 1e-9, "n={n} x={x}: {p} > {last}");
                last = p;
            }
        }
    }

    #[test]
    fn two_sample_exact_sweep() {
        for (m, n) in [
            (1_i64, 1_i64),
            (1, 7),
            (3, 5),
            (10, 4),
            (37, 41),
            (200, 150),
        ] {
            let g = {
                let (mut a, mut b) = (m, n);
                while b != 0 {
                    (a, b) = (b, a % b);
                }
                a
            };
            let lcm = m / g * n;
            let mut last = 1.0_f64;
            for h in 1..=lcm {
                let p = if m == n {
                    prob_outside_square(m, h)
                } else {
                    outer_prob_inside(m, n, g, h)
                };
                assert!(
                    (-1e-12..=1.0 + 1e-12).contains(&p),
                    "m={m} n={n} h={h} p={p}"
                );
                assert!(p <= last + 1e-12, "m={m} n={n} h={h}");
                last = p;
            }
        }
    }

    #[test]
    fn kstwo_edges() {
        assert_eq!(kstwo_sf(10, 0.0), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        assert!(kstwo_sf(0, 0.5).is_nan());
        let p = kstwo_sf(1000, 0.05);
        assert!(p > 0.0 && p < 0.05, "{p}");
    }
}
