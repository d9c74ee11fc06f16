//! Choosing a backend: smooth weighted round robin between a route's sides (nginx's algorithm: the
//! picks interleave, so weights 1:1 alternate instead of sending runs to one side), then round robin
//! among the side's usable backends. Pure, so the ratios are tested without sockets.

/// Smooth weighted round robin over `weights`, skipping entries `usable` refuses. `current` is the
/// running state, one entry per weight, kept between picks. None when no usable entry has weight.
pub fn smooth_wrr(current: &mut [i64], weights: &[u32], usable: impl Fn(usize) -> bool) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    for (i, &w) in weights.iter().enumerate() {
        if w == 0 || !usable(i) {
            continue;
        }
        current[i] += i64::from(w);
        total += i64::from(w);
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    let b = best?;
    current[b] -= total;
    Some(b)
}

/// The `n`-th usable index among `len`, counting from `start` round the ring: round robin that skips
/// what `usable` refuses without skewing towards the entry after a refused one.
pub fn round_robin(len: usize, start: usize, usable: impl Fn(usize) -> bool) -> Option<usize> {
    (0..len).map(|k| (start + k) % len).find(|&i| usable(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(weights: &[u32], usable: impl Fn(usize) -> bool + Copy, n: usize) -> Vec<usize> {
        let mut current = vec![0; weights.len()];
        let mut counts = vec![0; weights.len()];
        for _ in 0..n {
            counts[smooth_wrr(&mut current, weights, usable).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn weights_split_picks_within_five_percent_over_ten_thousand() {
        let cases: &[(&[u32], &[f64])] = &[
            (&[50, 50], &[0.5, 0.5]),
            (&[100, 0], &[1.0, 0.0]),
            (&[5, 95], &[0.05, 0.95]),
            (&[1, 2, 7], &[0.1, 0.2, 0.7]),
            (&[25, 75], &[0.25, 0.75]),
        ];
        for (weights, want) in cases {
            let got = shares(weights, |_| true, 10_000);
            for (g, w) in got.iter().zip(want.iter()) {
                let share = *g as f64 / 10_000.0;
                assert!((share - w).abs() <= 0.05 * w.max(0.01), "{weights:?}: {got:?}");
            }
        }
    }

    #[test]
    fn picks_interleave_and_skip_unusable_sides() {
        let mut current = vec![0; 2];
        let seq: Vec<usize> = (0..6).map(|_| smooth_wrr(&mut current, &[1, 1], |_| true).unwrap()).collect();
        assert_eq!(seq, [0, 1, 0, 1, 0, 1]);
        assert_eq!(shares(&[10, 90], |i| i == 0, 100), [100, 0]);
        let mut current = vec![0; 2];
        assert_eq!(smooth_wrr(&mut current, &[0, 0], |_| true), None);
        assert_eq!(smooth_wrr(&mut current, &[3, 3], |_| false), None);
    }

    #[test]
    fn round_robin_skips_refused_entries() {
        assert_eq!(round_robin(3, 1, |_| true), Some(1));
        assert_eq!(round_robin(3, 1, |i| i != 1), Some(2));
        assert_eq!(round_robin(3, 5, |i| i == 0), Some(0));
        assert_eq!(round_robin(3, 0, |_| false), None);
        assert_eq!(round_robin(0, 0, |_| true), None);
    }
}
