//! Markdown tables with aligned columns (readable in a terminal and pasteable into docs).

/// Renders a Markdown table; the first column is left-aligned, the others right-aligned.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(&format!(" {c}{} |", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {}{c} |", " ".repeat(pad)));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    let mut sep = String::from("|");
    for (i, w) in width.iter().enumerate() {
        if i == 0 {
            sep.push_str(&format!(" {} |", "-".repeat(*w)));
        } else {
            sep.push_str(&format!(" {}: |", "-".repeat(w.saturating_sub(1))));
        }
    }
    out.push_str(&sep);
    out.push('\n');
    for r in rows {
        let mut cells = r.clone();
        cells.resize(cols, String::new());
        out.push_str(&line(cells));
    }
    out
}

/// Seconds with 3 significant-ish decimals; "fail" for NaN.
pub fn secs(x: f64) -> String {
    if x.is_nan() {
        "fail".into()
    } else if x < 10.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.2}")
    }
}

/// A ratio `a / b` as "0.42x".
pub fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "-".into()
    } else {
        format!("{:.2}x", a / b)
    }
}

/// KiB as MB (10^6 bytes).
pub fn mb(kib: f64) -> String {
    if kib.is_nan() {
        "fail".into()
    } else {
        format!("{:.1}", kib * 1024.0 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned() {
        let t = render(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "| a   | bb |\n| --- | -: |\n| xyz |  1 |\n");
        assert_eq!(ratio(1.0, 4.0), "0.25x");
        assert_eq!(secs(f64::NAN), "fail");
    }
}
