//! Examples per token length, in bins of a round width, with the maximum length that training
//! cuts at: what the histogram draws, computed once on the worker.

/// Bins the histogram aims for.
const TARGET_BINS: usize = 40;

/// A histogram of token lengths.
#[derive(Debug, Clone, PartialEq)]
pub struct LengthHistogram {
    /// Width of a bin in tokens (1, 2 or 5 times a power of ten).
    pub bin_width: usize,
    /// Examples per bin; bin `i` holds lengths in `[i * bin_width, (i + 1) * bin_width)`.
    pub counts: Vec<usize>,
    /// The cut: examples longer than this are truncated.
    pub max_len: usize,
    /// Examples longer than `max_len`.
    pub over: usize,
    /// Of those, examples left with no response token (dropped from training).
    pub dropped: usize,
    /// Examples in all.
    pub total: usize,
    /// Median length.
    pub median: usize,
    /// Longest example.
    pub longest: usize,
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `x`.
pub fn round_width(x: f64) -> usize {
    let mut unit = 1usize;
    loop {
        for m in [1, 2, 5] {
            if (unit * m) as f64 >= x {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

impl LengthHistogram {
    /// The histogram of `lengths` with the cut at `max_len`; `dropped` comes from tokenising.
    pub fn new(lengths: &[usize], max_len: usize, dropped: usize) -> Self {
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let span = longest.max(max_len).max(1);
        let bin_width = round_width(span as f64 / TARGET_BINS as f64);
        let mut counts = vec![0; span / bin_width + 1];
        for &n in lengths {
            counts[n / bin_width] += 1;
        }
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        Self {
            bin_width,
            counts,
            max_len,
            over: lengths.iter().filter(|&&n| n > max_len).count(),
            dropped,
            total: lengths.len(),
            median: sorted.get(sorted.len() / 2).copied().unwrap_or(0),
            longest,
        }
    }

    /// What the cut does, in words.
    pub fn cut_summary(&self) -> String {
        if self.over == 0 {
            return format!("All {} examples fit in the maximum length of {} tokens; none is truncated.", self.total, self.max_len);
        }
        let share = 100.0 * self.over as f64 / self.total.max(1) as f64;
        let mut s = format!(
            "{} of {} examples ({share:.1}%) are longer than {} tokens: training truncates them to {} tokens.",
            self.over, self.total, self.max_len, self.max_len
        );
        if self.dropped > 0 {
            s += &format!(" {} lose their whole response and are dropped.", self.dropped);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_every_length_and_the_cut_is_counted() {
        let lengths = [3, 17, 250, 600, 1500];
        let h = LengthHistogram::new(&lengths, 1024, 1);
        assert_eq!(h.bin_width, 50, "1500 tokens over ~40 bins");
        assert_eq!(h.counts.iter().sum::<usize>(), lengths.len());
        assert_eq!((h.counts[0], h.counts[5], h.counts[12], h.counts[30]), (2, 1, 1, 1));
        assert_eq!((h.over, h.total, h.median, h.longest), (1, 5, 250, 1500));
        assert!(h.cut_summary().starts_with("1 of 5 examples (20.0%) are longer than 1024 tokens"), "{}", h.cut_summary());
        assert!(h.cut_summary().contains("1 lose their whole response"));
        // The bins reach the cut even when every example is shorter.
        let short = LengthHistogram::new(&[10, 20], 512, 0);
        assert!(short.counts.len() * short.bin_width > 512);
        assert!(short.cut_summary().contains("none is truncated"));
        assert_eq!((round_width(0.3), round_width(3.0), round_width(11.0), round_width(26.0)), (1, 5, 20, 50));
    }
}
