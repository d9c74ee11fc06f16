//! The requests the cluster's routers counted, as charts per route: requests per second, the share
//! of 5xx responses and latency (p50 and p99; p99 only when compact), one line per side (a
//! blue-green release has two). A range choice (the ranges the samples are kept for) and a refresh
//! every 10 s; each route's charts stay in place across refreshes (keyed by route), and the panel
//! says "No requests yet" rather than drawing empty axes.

use std::time::Duration;

use leptos::prelude::*;

use super::observe::{Line, LineChart, RANGES};
use super::ui::{ticker, BUTTON, PRIMARY};
use crate::api::routing::{get_traffic, TrafficPointRow, TrafficView};
use crate::format;

/// The ranges offered: the first three of the charts' (requests are kept as long as raw metric
/// samples, six hours by default, and have no rollups for longer ranges).
const OFFERED: usize = 3;

// One colour per side, per chart. Tailwind generates only the classes it finds in the sources; the
// legend turns `stroke-…` into `text-…`: text-sky-500 text-emerald-500 text-amber-500 text-rose-500
// text-orange-500 text-pink-500 text-violet-500 text-fuchsia-500 text-teal-500 text-lime-500.
const RATE_TONES: [&str; 3] = ["stroke-sky-500", "stroke-emerald-500", "stroke-amber-500"];
const ERROR_TONES: [&str; 3] = ["stroke-rose-500", "stroke-orange-500", "stroke-pink-500"];
const P99_TONES: [&str; 3] = ["stroke-violet-500", "stroke-fuchsia-500", "stroke-amber-500"];
const P50_TONES: [&str; 3] = ["stroke-teal-500", "stroke-lime-500", "stroke-sky-500"];

/// The charts of every route of a cluster (`app` empty) or of one app.
#[component]
pub fn TrafficPanel(
    #[prop(into)] cluster: Signal<i64>,
    #[prop(into)] app: Signal<String>,
    /// Latency as p99 only, for the app page.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let range = RwSignal::new(RANGES[0].1);
    let tick = ticker(Duration::from_secs(10));
    let data = crate::codec::resource(
        move || (cluster.get(), app.get(), range.get(), tick.get()),
        |(cluster, app, range, _)| get_traffic(cluster, app, range),
    );
    // The last answer stays on screen while the next loads.
    let traffic = RwSignal::new(None::<TrafficView>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match data.get() {
        Some(Ok(v)) => {
            traffic.set(Some(v));
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e.display())),
        None => {}
    });
    let routes = move || {
        traffic.with(|t| {
            let mut ids: Vec<String> = Vec::new();
            for s in t.iter().flat_map(|t| &t.series) {
                if ids.last() != Some(&s.route) {
                    ids.push(s.route.clone());
                }
            }
            ids
        })
    };
    let any_requests =
        move || traffic.with(|t| t.iter().flat_map(|t| &t.series).any(|s| s.points.iter().any(|p| p.requests > 0)));
    let from = Signal::derive(move || traffic.with(|t| t.as_ref().map_or(0, |t| t.from)));
    let to = Signal::derive(move || traffic.with(|t| t.as_ref().map_or(0, |t| t.to)));
    let step = Signal::derive(move || traffic.with(|t| t.as_ref().map_or(0, |t| t.step)));
    view! {
        <div class="space-y-3" data-testid="traffic">
            <div class="flex flex-wrap items-center gap-1" role="group" aria-label="Time range of the requests">
                {RANGES[..OFFERED].iter().map(|(label, ms)| {
                    let ms = *ms;
                    view! {
                        <button
                            type="button"
                            class=move || if range.get() == ms { PRIMARY } else { BUTTON }
                            aria-pressed=move || (range.get() == ms).to_string()
                            data-testid=format!("traffic-range-{}", label.replace(' ', ""))
                            on:click=move |_| range.set(ms)
                        >{*label}</button>
                    }
                }).collect_view()}
                <span class="ml-2 text-xs text-slate-500">"Counted by the routers, collected every 5 s; refreshed every 10 s"</span>
            </div>
            {move || error.get().map(|e| view! { <p class="text-sm text-red-600 dark:text-red-400">{e}</p> })}
            {move || (traffic.with(Option::is_some) && !any_requests()).then(|| view! {
                <p class="text-sm text-slate-500" data-testid="traffic-empty">"No requests yet: the charts appear once the routers have answered requests on a route in this range."</p>
            })}
            <div class="space-y-4" class:hidden=move || !any_requests()>
                <For each=routes key=|r| r.clone() let:route>
                    <RouteCharts route traffic from to step compact />
                </For>
            </div>
        </div>
    }
}

/// One route's three charts, drawn from the panel's latest answer.
#[component]
fn RouteCharts(
    route: String,
    traffic: RwSignal<Option<TrafficView>>,
    from: Signal<i64>,
    to: Signal<i64>,
    step: Signal<i64>,
    compact: bool,
) -> impl IntoView {
    let lines = {
        let route = route.clone();
        move |tones: [&'static str; 3], metric: &'static str, pick: fn(&TrafficPointRow) -> Option<f64>| {
            traffic.with(|t| {
                let sides: Vec<_> = t.iter().flat_map(|t| &t.series).filter(|s| s.route == route).collect();
                let many = sides.len() > 1;
                sides
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Line {
                        label: if many { format!("{} {metric}", s.side) } else { metric.to_string() },
                        tone: tones[i % tones.len()],
                        points: s.points.iter().filter_map(|p| pick(p).map(|v| (p.ts, v))).collect(),
                    })
                    .collect::<Vec<Line>>()
            })
        }
    };
    let rps = Signal::derive({
        let lines = lines.clone();
        move || lines(RATE_TONES, "req/s", |p| Some(p.rps))
    });
    let errors = Signal::derive({
        let lines = lines.clone();
        move || lines(ERROR_TONES, "5xx", |p| Some(p.err5xx_pct))
    });
    let latency = Signal::derive(move || {
        let mut out = lines(P99_TONES, "p99", |p| p.p99_ms);
        if !compact {
            out.extend(lines(P50_TONES, "p50", |p| p.p50_ms));
        }
        out
    });
    let title = if compact { "Latency p99 (ms)" } else { "Latency p50 and p99 (ms)" };
    view! {
        <section class="space-y-2" data-testid="traffic-route" data-route=route.clone()>
            <h3 class="font-mono text-xs text-slate-600 dark:text-slate-300">{route.clone()}</h3>
            <div class="grid gap-3 lg:grid-cols-3">
                <LineChart title="Requests per second" testid="traffic-rps" lines=rps from to step unit=per_second />
                <LineChart title="5xx responses (%)" testid="traffic-5xx" lines=errors from to step unit=format::percent />
                <LineChart title=title testid="traffic-latency" lines=latency from to step unit=millis />
            </div>
        </section>
    }
}

fn per_second(v: f64) -> String {
    format!("{}/s", format::tenths(v))
}

fn millis(v: f64) -> String {
    format!("{} ms", format::tenths(v))
}
