//! The harness's seeded generator: SplitMix64 (Steele, Lea and Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014). The explorer's samples and the process-kill
//! test only need a reproducible stream of choices for a seed, so a dozen lines of our own
//! replace a dependency on `rand`.

/// A SplitMix64 stream: the same seed gives the same sequence on every platform and version.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n`; `None` when `n` is 0 (the range is empty). Draws that would
    /// favour the low values (the last `2^64 mod n` of the 64-bit range) are rejected.
    pub fn below(&mut self, n: u64) -> Option<u64> {
        if n == 0 {
            return None;
        }
        let leftover = (u64::MAX % n + 1) % n;
        loop {
            let x = self.next_u64();
            if x <= u64::MAX - leftover {
                return Some(x % n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn matches_the_published_splitmix64_sequences() {
        let mut zero = SplitMix64::new(0);
        assert_eq!(
            [zero.next_u64(), zero.next_u64(), zero.next_u64()],
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
        let mut other = SplitMix64::new(1_234_567);
        assert_eq!(
            [other.next_u64(), other.next_u64(), other.next_u64()],
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_choices_and_another_seed_other_ones() {
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..64).map(|_| rng.below(7)).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn below_stays_in_range_and_reaches_every_value() {
        let mut rng = SplitMix64::new(7);
        for n in [1u64, 2, 3, 10, 25_000, u64::MAX] {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..2_000 {
                let v = rng.below(n).expect("n > 0");
                assert!(v < n, "{v} not below {n}");
                seen.insert(v);
            }
            if n <= 10 {
                assert_eq!(seen.len() as u64, n, "every value of 0..{n} drawn");
            }
        }
        assert_eq!(rng.below(0), None);
    }

    #[test]
    fn below_rejects_exactly_the_draws_past_the_last_whole_multiple_of_n() {
        // With n = 2^63 + 1 only one multiple of n fits in 64 bits, so the draws 0..=2^63 are
        // kept as they are and every larger one is rejected: about half of them.
        let n = (1u64 << 63) + 1;
        let mut rng = SplitMix64::new(99);
        let mut raw = SplitMix64::new(99);
        let mut rejected = 0;
        for _ in 0..64 {
            let kept = loop {
                let x = raw.next_u64();
                if x < n {
                    break x;
                }
                rejected += 1;
            };
            assert_eq!(rng.below(n), Some(kept));
        }
        assert!(rejected > 10, "only {rejected} draws rejected");
    }
}
