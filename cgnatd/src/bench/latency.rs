//! A fixed-size latency histogram (log-linear buckets: 8 per power of two), so recording a
//! sample never allocates and percentiles are read off at the end.

/// Buckets: 64 powers of two × 8 sub-buckets.
const SUB: usize = 8;

/// The histogram.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 64 * SUB],
            n: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return usize::try_from(v).unwrap_or(0);
    }
    let p = 63 - usize::try_from(v.leading_zeros()).unwrap_or(0);
    let sub = usize::try_from((v >> (p - 3)) & 7).unwrap_or(0);
    (p * SUB + sub).min(64 * SUB - 1)
}

fn bucket_low(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let p = b / SUB;
    let sub = (b % SUB) as u64;
    (1u64 << p) | (sub << (p - 3))
}

impl Histogram {
    /// Records one sample (nanoseconds).
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[bucket(v)] += 1;
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// The value below which `q` (0..=1) of the samples fall (bucket lower bound).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let target = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= target {
                return bucket_low(b).max(self.min).min(self.max);
            }
        }
        self.max
    }

    /// (min, mean, max), 0s when empty.
    pub fn summary(&self) -> (u64, u64, u64) {
        if self.n == 0 {
            return (0, 0, 0);
        }
        let mean = u64::try_from(self.sum / u128::from(self.n)).unwrap_or(u64::MAX);
        (self.min, mean, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5);
        assert!((4400..=5000).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((8700..=9900).contains(&p99), "{p99}");
        assert_eq!(h.summary(), (1, 5000, 10_000));
    }
}
