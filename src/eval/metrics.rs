//! The confusion matrix and what is read off it: accuracy, per-class precision and recall.

use std::fmt::Write;

use serde_json::json;

/// Counts of (true class, predicted class); rows are the truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confusion {
    classes: usize,
    counts: Vec<u64>,
}

impl Confusion {
    pub fn new(classes: usize) -> Confusion {
        Confusion { classes, counts: vec![0; classes * classes] }
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Counts one image; both classes must be below [`Confusion::classes`].
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth * self.classes + predicted] += 1;
    }

    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// Images counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|k| self.get(k, k)).sum()
    }

    /// Images of class `k` (its row).
    pub fn support(&self, k: usize) -> u64 {
        (0..self.classes).map(|p| self.get(k, p)).sum()
    }

    /// Images predicted as `k` (its column).
    pub fn predicted(&self, k: usize) -> u64 {
        (0..self.classes).map(|t| self.get(t, k)).sum()
    }

    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.correct(), self.total())
    }

    /// Of the images predicted `k`, the share that are `k`; None when none was predicted `k`.
    pub fn precision(&self, k: usize) -> Option<f64> {
        ratio(self.get(k, k), self.predicted(k))
    }

    /// Of the images of class `k`, the share predicted `k`; None when there are none.
    pub fn recall(&self, k: usize) -> Option<f64> {
        ratio(self.get(k, k), self.support(k))
    }

    /// Rows (truth) of counts.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts.chunks(self.classes.max(1)).map(<[u64]>::to_vec).collect()
    }

    /// Accuracy, per-class figures and the matrix, for `--json`.
    pub fn to_json(&self, names: &[String]) -> serde_json::Value {
        let per_class: Vec<_> = (0..self.classes)
            .map(|k| {
                json!({ "class": k, "name": names.get(k), "images": self.support(k),
                        "predicted": self.predicted(k), "precision": self.precision(k), "recall": self.recall(k) })
            })
            .collect();
        json!({ "images": self.total(), "correct": self.correct(), "accuracy": self.accuracy(),
                "per_class": per_class, "confusion": { "rows": "true class", "columns": "predicted class",
                "matrix": self.rows() } })
    }

    /// Per-class precision and recall, then the matrix with class names.
    pub fn text(&self, names: &[String]) -> String {
        let mut t = String::new();
        let w = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
        let _ = writeln!(t, "{:>2}  {:w$}  {:>7}  {:>9}  {:>7}", "#", "class", "images", "precision", "recall");
        for (k, name) in names.iter().enumerate().take(self.classes) {
            let (p, r) = (percent(self.precision(k)), percent(self.recall(k)));
            let _ = writeln!(t, "{k:>2}  {name:w$}  {:>7}  {p:>9}  {r:>7}", self.support(k));
        }
        let _ = writeln!(t, "\nconfusion matrix (rows: true class, columns: predicted class)");
        let cw = self.rows().iter().flatten().map(|c| c.to_string().len()).max().unwrap_or(1).max(2);
        let head: String = (0..self.classes).map(|k| format!("  {k:>cw$}")).collect();
        let _ = writeln!(t, "{:>2}  {:w$}{head}", "", "");
        for (k, row) in self.rows().iter().enumerate() {
            let cells: String = row.iter().map(|c| format!("  {c:>cw$}")).collect();
            let _ = writeln!(t, "{k:>2}  {:w$}{cells}", names.get(k).map_or("", String::as_str));
        }
        t
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// "97.50%", or "-" when undefined.
pub fn percent(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_matrix() {
        let mut c = Confusion::new(3);
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 0)] {
            c.add(t, p);
        }
        assert_eq!((c.total(), c.correct()), (5, 3));
        assert_eq!(c.accuracy(), Some(0.6));
        assert_eq!(c.precision(0), Some(2.0 / 3.0));
        assert_eq!(c.recall(0), Some(2.0 / 3.0));
        assert_eq!(c.precision(2), None);
        assert_eq!(c.recall(2), Some(0.0));
        assert_eq!(c.rows(), vec![vec![2, 1, 0], vec![0, 1, 0], vec![1, 0, 0]]);
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert!(c.text(&names).contains(" 1  b            1     50.00%  100.00%\n"), "{}", c.text(&names));
    }
}
