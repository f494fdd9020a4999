//! Native per-operation costs: median of 9 rounds, µs per operation, as JSON.
use std::time::Instant;

fn main() {
    let mut out = Vec::new();
    for (name, f, n) in p256_ops::OPS {
        f(n / 10); // warm-up
        let mut xs: Vec<f64> = (0..9)
            .map(|_| {
                let t = Instant::now();
                f(n);
                t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
            })
            .collect();
        xs.sort_by(f64::total_cmp);
        out.push(format!("\"{name}\":{:.4}", xs[4]));
    }
    println!("{{{}}}", out.join(","));
}
