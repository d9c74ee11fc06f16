//! How long `parse` and `variables` take on the worst inputs a template may be: each adversarial
//! input of (nearly) the 256 KB limit and a large valid template, 10 runs each, printed as
//! min / median / max beside the goal (one request must not hold a core for long: ≤ 50 ms).
//!
//! `cargo bench -p compose --bench parse` (no docker, no other crate needed).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

#[path = "../tests/common/bombs.rs"]
#[allow(dead_code)] // the tests read more of it than the benchmark does
mod bombs;

use std::time::{Duration, Instant};

const RUNS: usize = 10;
const GOAL: Duration = Duration::from_millis(50);

/// (min, median, max) of `RUNS` timed calls.
fn time(mut f: impl FnMut()) -> (Duration, Duration, Duration) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[RUNS / 2], times[RUNS - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    println!(
        "compose: parse and variables on 256 KB adversarial inputs ({RUNS} runs each; goal: worst ≤ {} ms)",
        GOAL.as_millis()
    );
    println!("{:<34} {:>7}  {:>26}  {:>26}", "input", "KB", "parse min/median/max ms", "variables min/median/max ms");
    let mut worst = (Duration::ZERO, String::new());
    for b in bombs::bombs() {
        let (p0, p1, p2) = time(|| {
            std::hint::black_box(compose::parse(&b.text, &b.vars).is_ok());
        });
        let (v0, v1, v2) = time(|| {
            std::hint::black_box(compose::variables(&b.text).len());
        });
        println!(
            "{:<34} {:>7}  {:>26}  {:>26}",
            b.name,
            b.text.len() / 1024,
            format!("{} / {} / {}", ms(p0), ms(p1), ms(p2)),
            format!("{} / {} / {}", ms(v0), ms(v1), ms(v2)),
        );
        for (d, what) in [(p2, "parse"), (v2, "variables")] {
            if d > worst.0 {
                worst = (d, format!("{what} of `{}`", b.name));
            }
        }
    }
    let verdict = if worst.0 <= GOAL { "within" } else { "OVER" };
    println!("worst case: {} ms ({}), {verdict} the goal of ≤ {} ms", ms(worst.0), worst.1, GOAL.as_millis());
}
