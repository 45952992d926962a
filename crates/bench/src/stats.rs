//! Percentiles and the report table.

use std::time::Duration;

/// Durations measured for one figure.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    /// The nearest-rank percentile `p` (0..=100).
    pub fn percentile(&self, p: u32) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = (sorted.len() * p as usize).div_ceil(100).max(1);
        sorted[rank - 1]
    }
}

/// One row of a report: what, Sage Runner's figure, the baseline's, and how many times
/// the baseline Sage Runner's figure is ("x" reads as "times the baseline").
pub fn row(what: &str, sage: f64, baseline: f64, unit: &str) {
    println!(
        "  {what:<28} {sage:>10.3} {unit:<6} {baseline:>10.3} {unit:<6} {:>7.2}x",
        sage / baseline
    );
}

pub fn header(title: &str) {
    header_of(title, "sage runner", "plain docker");
}

/// A report's title and what its two columns are.
pub fn header_of(title: &str, ours: &str, baseline: &str) {
    println!("\n{title}");
    println!("  {:<28} {:>17} {:>17} {:>8}", "", ours, baseline, "ratio");
}

pub fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}
