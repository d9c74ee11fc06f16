//! Observability building blocks shared by the app, node, cluster and history pages: line charts of
//! a metric series with a time-range choice and live updates, the log viewer (live tail, pause,
//! search, download; the buffer is bounded so fast logs cannot freeze the page), the events
//! timeline, and saving text as a file.

use std::collections::VecDeque;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use super::ui::{ticker, BUTTON, INPUT, PRIMARY};
use crate::api::observe::{get_events, get_logs, get_series, logs_text, EventRow, LogRow, SeriesRow, EVENTS_PAGE};
use crate::components::table::query_href;
use crate::format;

/// Lines the viewer keeps; older ones drop off the top.
const MAX_LINES: usize = 2000;

/// The ranges offered: (label, milliseconds).
pub const RANGES: &[(&str, i64)] = &[
    ("15 min", 15 * 60_000),
    ("1 h", 3_600_000),
    ("6 h", 6 * 3_600_000),
    ("24 h", 24 * 3_600_000),
    ("7 d", 7 * 24 * 3_600_000),
];

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    /// Tailwind stroke and text classes.
    pub tone: &'static str,
    pub points: Vec<(i64, f64)>,
}

// The drawing's size. The markup spells these as text: formatting an `f64` would pull the float
// formatting machinery into the wasm.
const W: f64 = 600.0;
const H: f64 = 140.0;
const LEFT: f64 = 4.0;
const TOP: f64 = 8.0;

/// A line chart in SVG: gaps where data is missing, y ticks with units, the range's ends on the time
/// axis, each line's latest value in the legend, and under the pointer a crosshair with a tooltip
/// that gives the time and every line's value there.
#[component]
pub fn LineChart(
    title: &'static str,
    testid: &'static str,
    #[prop(into)] lines: Signal<Vec<Line>>,
    #[prop(into)] from: Signal<i64>,
    #[prop(into)] to: Signal<i64>,
    #[prop(into)] step: Signal<i64>,
    unit: fn(f64) -> String,
) -> impl IntoView {
    let top = move || {
        let max = lines.with(|ls| ls.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0_f64, f64::max));
        nice_ceiling(max)
    };
    let paths = move || {
        let (from, to, step, top) = (from.get(), to.get(), step.get().max(1), top());
        lines
            .get()
            .into_iter()
            .map(|l| {
                let d = path(&l.points, from, to, step, top);
                view! { <path d=d class=format!("fill-none stroke-2 {}", l.tone) vector-effect="non-scaling-stroke"></path> }
            })
            .collect_view()
    };
    let legend = move || {
        lines
            .get()
            .into_iter()
            .map(|l| {
                let latest = l.points.last().map(|p| unit(p.1)).unwrap_or_else(|| "–".into());
                view! {
                    <span class=format!("inline-flex items-center gap-1 {}", l.tone.replace("stroke-", "text-"))>
                        <span class="font-semibold">"●"</span>
                        <span class="text-slate-600 dark:text-slate-300">{l.label.clone()}</span>
                        <span class="tabular-nums text-slate-900 dark:text-slate-100">{latest}</span>
                    </span>
                }
            })
            .collect_view()
    };
    let count = move || lines.with(|ls| ls.iter().map(|l| l.points.len()).sum::<usize>());
    // Where the pointer is, as a fraction of the plot's width (none when it is elsewhere).
    let hover = RwSignal::new(None::<f64>);
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let el = event_target::<web_sys::Element>(&ev);
        let rect = el.get_bounding_client_rect();
        if rect.width() > 0.0 {
            hover.set(Some(((f64::from(ev.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0)));
        }
    };
    // The time under the pointer and, per line, the nearest sample's value.
    let under = move || {
        let frac = hover.get()?;
        let (from, to) = (from.get(), to.get());
        let t = from + ((to - from) as f64 * frac) as i64;
        let step = step.get().max(1);
        let values: Vec<(String, &'static str, String)> = lines.with(|ls| {
            ls.iter()
                .map(|l| {
                    let near = nearest(&l.points, t).filter(|p| (p.0 - t).abs() <= step * 2);
                    (l.label.clone(), l.tone, near.map(|p| unit(p.1)).unwrap_or_else(|| "no sample".into()))
                })
                .collect()
        });
        Some((frac, t, values))
    };
    view! {
            <figure class="rounded-lg border border-slate-200 p-3 dark:border-slate-800" data-testid=testid data-points=count>
                <figcaption class="mb-1 flex flex-wrap items-center justify-between gap-2 text-xs">
                    <span class="font-semibold uppercase tracking-wide text-slate-500">{title}</span>
                    <span class="flex flex-wrap gap-3">{legend}</span>
                </figcaption>
                <div class="flex gap-2">
                    <div class="flex h-32 w-16 shrink-0 flex-col justify-between text-right text-[11px] tabular-nums text-slate-500" aria-hidden="true" data-testid="y-ticks">
                        <span>{move || unit(top())}</span>
                        <span>{move || unit(top() / 2.0)}</span>
                        <span>{move || unit(0.0)}</span>
                    </div>
                    <div class="relative min-w-0 flex-1">
                        <svg viewBox="0 0 600 140" class="h-32 w-full" preserveAspectRatio="none" role="img" aria-label=title>
                            <line x1="0" x2="600" y1="8" y2="8" class="stroke-slate-200 dark:stroke-slate-800" vector-effect="non-scaling-stroke"></line>
                            <line x1="0" x2="600" y1="74" y2="74" class="stroke-slate-200 dark:stroke-slate-800" vector-effect="non-scaling-stroke"></line>
                            <line x1="0" x2="600" y1="139" y2="139" class="stroke-slate-300 dark:stroke-slate-700" vector-effect="non-scaling-stroke"></line>
                            {paths}
                            {move || hover.get().map(|f| {
                                let x = (f * W) as i64;
                                view! { <line x1=x x2=x y1="0" y2="140" class="stroke-slate-400 dark:stroke-slate-500" stroke-dasharray="3 3" vector-effect="non-scaling-stroke" data-testid="crosshair"></line> }
                            })}
                        </svg>
                        // A transparent layer takes the pointer so the tooltip follows it over the lines.
                        <div class="absolute inset-0 cursor-crosshair" data-testid=format!("{testid}-plot")
                            on:mousemove=on_move on:mouseleave=move |_| hover.set(None)></div>
                        {move || under().map(|(frac, t, values)| {
                            // The tooltip sits in the corner away from the pointer (no inline styles under the CSP).
                            let side = if frac > 0.5 { "left-1" } else { "right-1" };
                            view! {
                                <div role="tooltip" data-testid="chart-tooltip"
                                    class=format!("pointer-events-none absolute top-1 z-10 whitespace-nowrap rounded-md border border-slate-200 bg-white/95 px-2 py-1 text-[11px] shadow dark:border-slate-700 dark:bg-slate-900/95 {side}")
    >
                                    <p class="font-semibold tabular-nums">{format::time_of_day_utc(t)}</p>
                                    {values.into_iter().map(|(label, tone, value)| view! {
                                        <p class="flex gap-2"><span class=tone.replace("stroke-", "text-")>"●"</span><span>{label}</span><span class="ml-auto tabular-nums">{value}</span></p>
                                    }).collect_view()}
                                </div>
                            }
                        })}
                    </div>
                </div>
                <div class="ml-[4.5rem] flex justify-between text-[11px] tabular-nums text-slate-500">
                    <span>{move || format::hour_minute_utc(from.get())}</span>
                    <span>{move || format!("{} UTC", format::hour_minute_utc(to.get()))}</span>
                </div>
                {move || (count() == 0).then(|| view! { <p class="text-xs text-slate-500" data-testid=format!("{testid}-empty")>"No samples in this range yet."</p> })}
            </figure>
        }
}

/// The sample nearest to `t` (points are in time order).
fn nearest(points: &[(i64, f64)], t: i64) -> Option<(i64, f64)> {
    let i = points.partition_point(|p| p.0 < t);
    let after = points.get(i);
    let before = i.checked_sub(1).and_then(|j| points.get(j));
    match (before, after) {
        (Some(b), Some(a)) => Some(if t - b.0 <= a.0 - t { *b } else { *a }),
        (b, a) => b.or(a).copied(),
    }
}

/// A round number at or above `v` (1, 2, 5 × 10ⁿ), at least 1.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let mut base = 1.0;
    while base * 10.0 < v {
        base *= 10.0;
    }
    for m in [1.0, 2.0, 5.0, 10.0] {
        if base * m >= v {
            return base * m;
        }
    }
    base * 10.0
}

/// The SVG path of points; a gap longer than three steps starts a new segment.
fn path(points: &[(i64, f64)], from: i64, to: i64, step: i64, top: f64) -> String {
    let span = (to - from).max(1) as f64;
    let mut d = String::new();
    let mut last: Option<i64> = None;
    for &(t, v) in points {
        let x = LEFT + (t - from) as f64 / span * (W - LEFT);
        let y = H - 1.0 - (v / top).clamp(0.0, 1.0) * (H - 1.0 - TOP);
        let join = last.is_some_and(|l| t - l <= step * 3);
        d.push_str(&format!("{}{} {} ", if join { "L" } else { "M" }, x as i64, y as i64));
        last = Some(t);
    }
    d
}

/// The charts of one series (cpu, memory, network, disk) with a range choice, refreshed every 10 s.
#[component]
pub fn MetricsPanel(
    cluster: i64,
    #[prop(into)] scope: Signal<&'static str>,
    #[prop(into)] key: Signal<String>,
) -> impl IntoView {
    // The range chosen last (kept in the browser for every chart), 15 minutes at first.
    let range = RwSignal::new(RANGES[0].1);
    Effect::new(move |_| {
        if let Some(ms) = stored_range() {
            range.set(ms);
        }
    });
    let tick = ticker(Duration::from_secs(10));
    let data = crate::codec::resource(
        move || (scope.get(), key.get(), range.get(), tick.get()),
        move |(scope, key, range, _)| get_series(cluster, scope.to_string(), key, range),
    );
    // The last answer stays on screen while the next loads.
    let series = RwSignal::new(SeriesRow::default());
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match data.get() {
        Some(Ok(s)) => {
            series.set(s);
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e.display())),
        None => {}
    });
    let pick = |f: fn(&crate::api::observe::PointRow) -> f64| {
        move || series.with(|s| s.points.iter().map(|p| (p.ts, f(p))).collect::<Vec<_>>())
    };
    let cpu = Signal::derive({
        let cpu = pick(|p| p.cpu);
        move || vec![Line { label: "CPU".into(), tone: "stroke-sky-500", points: cpu() }]
    });
    let mem = Signal::derive({
        let (mem, limit) = (pick(|p| p.mem), pick(|p| p.mem_limit));
        move || {
            let limit: Vec<(i64, f64)> = limit().into_iter().filter(|p| p.1 > 0.0).collect();
            let mut lines = vec![Line { label: "used".into(), tone: "stroke-violet-500", points: mem() }];
            // A limit far above use would flatten the chart; show it when it is within sight.
            let used = lines[0].points.iter().map(|p| p.1).fold(0.0, f64::max);
            if limit.last().is_some_and(|l| l.1 < used * 4.0) {
                lines.push(Line { label: "limit".into(), tone: "stroke-slate-400", points: limit });
            }
            lines
        }
    });
    let net = Signal::derive({
        let (rx, tx) = (pick(|p| p.net_rx), pick(|p| p.net_tx));
        move || {
            vec![
                Line { label: "in".into(), tone: "stroke-emerald-500", points: rx() },
                Line { label: "out".into(), tone: "stroke-amber-500", points: tx() },
            ]
        }
    });
    let disk = Signal::derive({
        let (r, w) = (pick(|p| p.blk_read), pick(|p| p.blk_write));
        move || {
            vec![
                Line { label: "read".into(), tone: "stroke-teal-500", points: r() },
                Line { label: "write".into(), tone: "stroke-rose-500", points: w() },
            ]
        }
    });
    let from = Signal::derive(move || series.with(|s| s.from));
    let to = Signal::derive(move || series.with(|s| s.to));
    let step = Signal::derive(move || series.with(|s| s.step));
    view! {
        <div class="space-y-3" data-testid=move || format!("metrics-{}", scope.get())>
            <div class="flex flex-wrap items-center gap-1" role="group" aria-label="Time range">
                {RANGES.iter().map(|(label, ms)| {
                    let ms = *ms;
                    view! {
                        <button
                            type="button"
                            class=move || if range.get() == ms { PRIMARY } else { BUTTON }
                            aria-pressed=move || (range.get() == ms).to_string()
                            data-testid=format!("range-{}", label.replace(' ', ""))
                            on:click=move |_| {
                                range.set(ms);
                                store_range(ms);
                            }
                        >{*label}</button>
                    }
                }).collect_view()}
                <span class="ml-2 text-xs text-slate-500">"Live: refreshed every 10 s"</span>
            </div>
            {move || error.get().map(|e| view! { <p class="text-sm text-red-600 dark:text-red-400">{e}</p> })}
            <div class="grid gap-3 md:grid-cols-2">
                <LineChart title="CPU (% of one core)" testid="chart-cpu" lines=cpu from to step unit=format::percent />
                <LineChart title="Memory" testid="chart-memory" lines=mem from to step unit=|v| format::bytes(v as i64) />
                <LineChart title="Network" testid="chart-network" lines=net from to step unit=format::rate />
                <LineChart title="Disk I/O" testid="chart-disk" lines=disk from to step unit=format::rate />
            </div>
        </div>
    }
}

const RANGE_KEY: &str = "berth-chart-range";

/// The chart range this browser chose last, if it is one of [`RANGES`].
fn stored_range() -> Option<i64> {
    let storage = window().local_storage().ok().flatten()?;
    let ms = storage.get_item(RANGE_KEY).ok().flatten()?.parse::<i64>().ok()?;
    RANGES.iter().any(|r| r.1 == ms).then_some(ms)
}

fn store_range(ms: i64) {
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(RANGE_KEY, &ms.to_string());
    }
}

/// Saves `text` as a file named `name` in the browser.
pub fn save_file(name: &str, mime: &str, text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let parts = js_sys::Array::of1(&leptos::wasm_bindgen::JsValue::from_str(text));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
        let document = leptos::prelude::document();
        if let Ok(a) = document.create_element("a") {
            if let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>() {
                a.set_href(&url);
                a.set_download(name);
                a.click();
            }
        }
        let _ = web_sys::Url::revoke_object_url(&url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (name, mime, text);
}

/// Live logs of an app's service (all its replicas merged in time order) or of one container: new
/// lines arrive every second unless paused, and the view follows them while it is scrolled to the
/// bottom; lines wrap or not, with or without their time; the first load reaches back a chosen
/// time and number of lines; a filter narrows what is shown; a search asks the store (also for
/// lines of containers that are gone); the shown lines can be downloaded.
#[component]
pub fn LogViewer(
    cluster: i64,
    #[prop(into)] app: String,
    #[prop(into)] service: Signal<String>,
    #[prop(into)] container: Signal<String>,
) -> impl IntoView {
    let lines = RwSignal::new(VecDeque::<LogRow>::new());
    let last = RwSignal::new(None::<i64>);
    let paused = RwSignal::new(false);
    let missed = RwSignal::new(0usize);
    let filter = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let follow = RwSignal::new(true);
    let wrap = RwSignal::new(true);
    let timestamps = RwSignal::new(true);
    let since_min = RwSignal::new(0i64);
    let count = RwSignal::new(300i64);
    let view_ref = NodeRef::<leptos::html::Div>::new();
    let app_name = StoredValue::new(app);

    // A new subject (or search) starts again from its newest lines.
    let load = move || {
        let (service, container, q) = (service.get_untracked(), container.get_untracked(), search.get_untracked());
        let (since, limit) = (since_min.get_untracked(), count.get_untracked());
        loading.set(true);
        leptos::task::spawn_local(async move {
            match get_logs(cluster, app_name.get_value(), service, container, q.clone(), None, limit, since).await {
                Ok(rows) => {
                    last.set(rows.iter().map(|r| r.id).max());
                    lines.set(rows.into_iter().collect());
                    missed.set(0);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.display())),
            }
            loading.set(false);
        });
    };
    Effect::new(move |_| {
        service.track();
        container.track();
        search.track();
        since_min.track();
        count.track();
        load();
    });
    // Following: after new lines are drawn, the view scrolls to the newest.
    // Where following last put the view: lines drawn since can leave it above the bottom without
    // anyone having scrolled.
    let auto_top = StoredValue::new(0i32);
    let to_bottom = move || {
        if let Some(el) = view_ref.get_untracked() {
            request_animation_frame(move || {
                el.set_scroll_top(el.scroll_height());
                auto_top.set_value(el.scroll_top());
            });
        }
    };
    Effect::new(move |_| {
        lines.track();
        filter.track();
        wrap.track();
        timestamps.track();
        if follow.get_untracked() {
            to_bottom();
        }
    });
    // Scrolling up stops following; scrolling back to the bottom follows again.
    let on_scroll = move |_| {
        if let Some(el) = view_ref.get_untracked() {
            let top = el.scroll_top();
            let following = follow.get_untracked();
            if top + el.client_height() >= el.scroll_height() - 8 {
                if !following {
                    follow.set(true);
                }
            } else if following && top < auto_top.get_value() - 4 {
                follow.set(false);
            }
        }
    };
    // The tail: what arrived since the newest line, bounded per poll and in the buffer.
    let tick = ticker(Duration::from_secs(1));
    let polling = RwSignal::new(false);
    Effect::new(move |_| {
        tick.track();
        if polling.get_untracked() || loading.get_untracked() || !search.get_untracked().is_empty() {
            return;
        }
        let Some(after) = last.get_untracked() else {
            // Nothing yet: ask again for the newest lines.
            if tick.get_untracked().is_multiple_of(2) {
                load();
            }
            return;
        };
        polling.set(true);
        let (service, container) = (service.get_untracked(), container.get_untracked());
        leptos::task::spawn_local(async move {
            if let Ok(mut rows) =
                get_logs(cluster, app_name.get_value(), service, container, String::new(), Some(after), 500, 0).await
            {
                if let Some(max) = rows.iter().map(|r| r.id).max() {
                    last.set(Some(max));
                }
                rows.sort_by_key(|r| (r.ts, r.id));
                if paused.get_untracked() {
                    missed.update(|m| *m += rows.len());
                } else if !rows.is_empty() {
                    lines.update(|buf| {
                        buf.extend(rows);
                        while buf.len() > MAX_LINES {
                            buf.pop_front();
                        }
                    });
                }
            }
            polling.set(false);
        });
    });
    let resume = move || {
        paused.set(false);
        if missed.get_untracked() > 0 {
            load();
        }
    };
    let shown = move || {
        let needle = filter.get().to_lowercase();
        lines.with(|buf| {
            buf.iter()
                .filter(|l| needle.is_empty() || l.line.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let download = move |_| {
        let (service, container, q) = (service.get_untracked(), container.get_untracked(), search.get_untracked());
        leptos::task::spawn_local(async move {
            match logs_text(cluster, app_name.get_value(), service.clone(), container, q).await {
                Ok(text) => save_file(
                    &format!("{}.log", if service.is_empty() { "logs" } else { &service }),
                    "text/plain",
                    &text,
                ),
                Err(e) => error.set(Some(e.display())),
            }
        });
    };
    let search_input = RwSignal::new(String::new());
    view! {
        <div class="space-y-2" data-testid="log-viewer">
            <div class="flex flex-wrap items-center gap-2">
                {move || if paused.get() {
                    view! { <button type="button" class=PRIMARY data-testid="log-resume" on:click=move |_| resume()>
                        {move || format!("Resume ({} new)", missed.get())}
                    </button> }.into_any()
                } else {
                    view! { <button type="button" class=BUTTON data-testid="log-pause" on:click=move |_| paused.set(true)>"Pause"</button> }.into_any()
                }}
                <input
                    type="search" class=format!("{INPUT} max-w-xs") placeholder="Filter shown lines"
                    aria-label="Filter shown lines" data-testid="log-filter"
                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))
                />
                <form class="flex items-center gap-2" on:submit=move |ev| { ev.prevent_default(); search.set(search_input.get_untracked().trim().to_string()); }>
                    <input
                        type="search" class=format!("{INPUT} max-w-xs") placeholder="Search stored logs (words)"
                        aria-label="Search stored logs" data-testid="log-search"
                        prop:value=move || search_input.get() on:input=move |ev| search_input.set(event_target_value(&ev))
                    />
                    <button type="submit" class=BUTTON data-testid="log-search-go">"Search"</button>
                    {move || (!search.get().is_empty()).then(|| view! {
                        <button type="button" class=BUTTON data-testid="log-search-clear" on:click=move |_| { search_input.set(String::new()); search.set(String::new()); }>"Back to live"</button>
                    })}
                </form>
                <button type="button" class=BUTTON data-testid="log-download" on:click=download>"Download"</button>
            </div>
            <div class="flex flex-wrap items-center gap-x-4 gap-y-2 text-sm">
                <label class="inline-flex items-center gap-1">
                    <input type="checkbox" data-testid="log-follow" prop:checked=move || follow.get()
                        on:change=move |ev| { let on = event_target_checked(&ev); follow.set(on); if on { to_bottom(); } } />
                    "Follow"
                </label>
                <label class="inline-flex items-center gap-1">
                    <input type="checkbox" data-testid="log-wrap" prop:checked=move || wrap.get() on:change=move |ev| wrap.set(event_target_checked(&ev)) />
                    "Wrap lines"
                </label>
                <label class="inline-flex items-center gap-1">
                    <input type="checkbox" data-testid="log-timestamps" prop:checked=move || timestamps.get() on:change=move |ev| timestamps.set(event_target_checked(&ev)) />
                    "Timestamps"
                </label>
                <label class="inline-flex items-center gap-1">"Since"
                    <select class="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950" data-testid="log-since"
                        on:change=move |ev| since_min.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {[(0, "any time"), (5, "5 minutes"), (15, "15 minutes"), (60, "1 hour"), (360, "6 hours"), (1440, "24 hours")].into_iter().map(|(v, label)| view! {
                            <option value=v.to_string() selected=move || since_min.get() == v>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="inline-flex items-center gap-1">"Lines"
                    <select class="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950" data-testid="log-lines-count"
                        on:change=move |ev| count.set(event_target_value(&ev).parse().unwrap_or(300))>
                        {[100i64, 300, 1000, 2000].into_iter().map(|v| view! {
                            <option value=v.to_string() selected=move || count.get() == v>{v.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <span class="text-xs text-slate-500" data-testid="log-count">
                    {move || {
                        let n = lines.with(VecDeque::len);
                        if !search.get().is_empty() { format!("{n} matching lines (search)") }
                        else if paused.get() { format!("{n} lines · paused") }
                        else { format!("{n} lines · live") }
                    }}
                </span>
            </div>
            {move || error.get().map(|e| view! { <p class="text-sm text-red-600 dark:text-red-400">{e}</p> })}
            <div node_ref=view_ref on:scroll=on_scroll class="max-h-96 overflow-auto rounded-lg bg-slate-950 p-3 font-mono text-xs leading-5 text-slate-100" data-testid="log-lines" data-following=move || follow.get().to_string()>
                {move || {
                    let rows = shown();
                    if rows.is_empty() {
                        return view! { <p class="text-slate-400">{if loading.get() { "Loading…" } else { "No log lines yet." }}</p> }.into_any();
                    }
                    let (wrapped, times) = (wrap.get(), timestamps.get());
                    rows.into_iter().map(|l| view! {
                        <div class=if wrapped { "flex gap-3 whitespace-pre-wrap break-all" } else { "flex gap-3 whitespace-pre" } data-testid="log-line">
                            {times.then(|| view! { <span class="shrink-0 text-slate-400" data-testid="log-time">{format::time_of_day_utc(l.ts / 1_000_000).trim_end_matches(" UTC").to_string()}</span> })}
                            <span class="shrink-0 text-sky-300" title=l.container_id.clone()>{short_task(&l.task)}</span>
                            <span class=if l.stream == "stderr" { "text-amber-200" } else { "" }>{l.line}</span>
                        </div>
                    }).collect_view().into_any()
                }}
            </div>
        </div>
    }
}

/// `shop_web.2.x7k…` → `web.2`.
fn short_task(task: &str) -> String {
    let mut parts = task.rsplitn(2, '.');
    let _id = parts.next();
    let rest = parts.next().unwrap_or(task);
    rest.split_once('_').map_or(rest, |(_, s)| s).to_string()
}

/// A cluster's (or one app's) events, newest first and refreshed, narrowed by words and severity
/// on the server, a page at a time. The view is kept in the address (`events_q`, `severity`,
/// `events_before`), beside whatever else the page keeps there.
#[component]
pub fn EventsTimeline(cluster: i64, #[prop(into)] app: String) -> impl IntoView {
    let tick = ticker(Duration::from_secs(5));
    let app = StoredValue::new(app);
    let query = use_query_map();
    let shown = Memo::new(move |_| {
        query.with(|q| {
            (
                q.get("events_q").unwrap_or_default(),
                q.get("severity").unwrap_or_default(),
                q.get("events_before").and_then(|b| b.parse::<i64>().ok()),
            )
        })
    });
    let events = crate::codec::resource(
        move || (tick.get(), shown.get()),
        move |(_, (q, severity, before))| get_events(cluster, app.get_value(), severity, q, before),
    );
    // The rows shown stay while the next refresh loads.
    let rows = RwSignal::new(Vec::<EventRow>::new());
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match events.get() {
        Some(Ok(list)) => {
            rows.set(list);
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e.display())),
        None => {}
    });
    let location = use_location();
    let navigate = use_navigate();
    let go = Callback::new(move |changes: Vec<(&'static str, Option<String>)>| {
        let href = query_href(&location.pathname.get_untracked(), &location.search.get_untracked(), &changes);
        navigate(&href, NavigateOptions { scroll: false, ..Default::default() });
    });
    let input = NodeRef::<leptos::html::Input>::new();
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = input.get_untracked().map(|i| i.value().trim().to_string()).unwrap_or_default();
        go.run(vec![("events_q", (!q.is_empty()).then_some(q)), ("events_before", None)]);
    };
    let on_severity = move |ev: leptos::ev::Event| {
        let severity = event_target_value(&ev);
        go.run(vec![("severity", (!severity.is_empty()).then_some(severity)), ("events_before", None)]);
    };
    let older = move |_| {
        if let Some(last) = rows.with_untracked(|r| r.last().map(|e| e.id)) {
            go.run(vec![("events_before", Some(last.to_string()))]);
        }
    };
    let newest = move |_| go.run(vec![("events_before", None)]);
    let narrowed = move || shown.with(|(q, severity, _)| !q.is_empty() || !severity.is_empty());
    view! {
        <form class="mb-3 flex flex-wrap items-center gap-2" role="search" on:submit=on_search>
            <input type="search" node_ref=input class=format!("{} min-w-0 flex-1 sm:max-w-xs", INPUT.replace("block w-full ", "")) aria-label="Search events"
                placeholder="Words in the event" data-testid="events-search" prop:value=move || shown.with(|s| s.0.clone()) />
            <label class="sr-only" for=format!("events-severity-{cluster}")>"Severity"</label>
            <select id=format!("events-severity-{cluster}") class="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950" data-testid="events-severity"
                prop:value=move || shown.with(|s| s.1.clone()) on:change=on_severity>
                <option value="">"Every event"</option>
                <option value="warning">"Warnings and errors"</option>
                <option value="error">"Errors"</option>
            </select>
            <button type="submit" class=BUTTON data-testid="events-search-go">"Search"</button>
        </form>
        {move || error.get().map(|e| view! { <p role="alert" class="mb-2 text-sm text-red-700 dark:text-red-300" data-testid="events-error">{e}</p> })}
        <ol class="max-h-80 space-y-1 overflow-auto text-sm" data-testid="events" tabindex="0" aria-label="Events">
            {move || {
                let list = rows.get();
                if list.is_empty() {
                    let none = if narrowed() { "No event matches." } else { "No events yet." };
                    return view! { <li class="text-slate-500" data-testid="events-empty">{none}</li> }.into_any();
                }
                list.into_iter().map(|e| {
                    let tone = match e.severity.as_str() {
                        "error" => "bg-red-500",
                        "warning" => "bg-amber-500",
                        _ => "bg-sky-500",
                    };
                    view! {
                        <li class="flex items-start gap-2" data-testid="event" data-id=e.id data-kind=e.kind.clone() data-action=e.action.clone() data-severity=e.severity.clone()>
                            <span class=format!("mt-1.5 h-2 w-2 shrink-0 rounded-full {tone}")></span>
                            <span class="shrink-0 tabular-nums text-slate-500">{format::date_utc(e.ts).trim_end_matches(" UTC").to_string()}</span>
                            <span>{e.message}</span>
                        </li>
                    }
                }).collect_view().into_any()
            }}
        </ol>
        <div class="mt-2 flex gap-2 text-sm">
            {move || shown.with(|s| s.2.is_some()).then(|| view! {
                <button type="button" class=BUTTON data-testid="events-newest" on:click=newest>"Newest events"</button>
            })}
            {move || (rows.with(Vec::len) >= EVENTS_PAGE).then(|| view! {
                <button type="button" class=BUTTON data-testid="events-older" on:click=older>"Older events"</button>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.3), 1.0);
        assert_eq!(nice_ceiling(37.0), 50.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
        assert_eq!(nice_ceiling(5e8), 5e8);
    }

    #[test]
    fn gaps_start_new_segments() {
        let d = path(&[(0, 0.0), (10, 1.0), (100, 1.0)], 0, 100, 10, 1.0);
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(d.starts_with("M4 139 L"), "{d}");
    }

    #[test]
    fn tasks_are_shortened() {
        assert_eq!(short_task("shop_web.2.x7k3"), "web.2");
        assert_eq!(short_task("plain"), "plain");
    }
}

/// The alerts firing now on the clusters the user may see, refreshed; nothing when none fire.
#[component]
pub fn FiringAlerts() -> impl IntoView {
    let tick = ticker(Duration::from_secs(10));
    let firing = crate::codec::resource(move || tick.get(), |_| crate::api::observe::get_firing());
    view! {
        <Transition fallback=|| ()>{move || Suspend::new(async move {
            let list = firing.await.unwrap_or_default();
            (!list.is_empty()).then(|| view! {
                <section id="firing" class="rounded-xl border border-red-200 bg-red-50 p-5 shadow-sm dark:border-red-900 dark:bg-red-950/60" data-testid="firing-alerts">
                    <h2 class="mb-3 text-sm font-semibold uppercase tracking-wide text-red-800 dark:text-red-200">
                        {format!("{} firing", format::count(list.len() as i64, "alert"))}
                    </h2>
                    <ul class="space-y-1 text-sm">
                        {list.into_iter().map(|a| view! {
                            <li class="flex flex-wrap items-baseline gap-2" data-testid="firing-alert">
                                <a href=format!("/clusters/{}/alerts", a.cluster_id) class="font-semibold text-red-800 hover:underline dark:text-red-200">{a.rule_name}</a>
                                <span class="text-slate-700 dark:text-slate-300">{format!("on {} since {}", a.cluster_name, format::time_of_day_utc(a.fired_at))}</span>
                                <span class="text-slate-700 dark:text-slate-300">{a.message}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            })
        })}</Transition>
    }
}
