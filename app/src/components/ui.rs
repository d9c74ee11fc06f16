//! Small building blocks with Berth's look: icons, cards, stats, banners, form fields.

use leptos::prelude::*;

/// A 24×24 outline icon from one SVG path.
#[component]
pub fn Icon(path: &'static str, #[prop(optional)] class: &'static str) -> impl IntoView {
    let class = if class.is_empty() { "h-5 w-5" } else { class };
    view! {
        <svg class=class viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.75" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
            <path d=path />
        </svg>
    }
}

/// Icon paths.
pub mod icons {
    pub const SUN: &str = "M12 3v2m0 14v2m9-9h-2M5 12H3m15.36 6.36-1.41-1.41M7.05 7.05 5.64 5.64m12.72 0-1.41 1.41M7.05 16.95l-1.41 1.41M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0z";
    pub const MOON: &str = "M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z";
    pub const HOME: &str = "M3 11l9-8 9 8M5 10v10h5v-6h4v6h5V10";
    pub const CLUSTERS: &str = "M4 7l8-4 8 4-8 4-8-4zm0 5l8 4 8-4M4 17l8 4 8-4";
    pub const SETTINGS: &str = "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7.6 7.6 0 0 0-2-1.2L14.5 3h-4l-.4 2.6a7.6 7.6 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7.6 7.6 0 0 0 2 1.2l.4 2.6h4l.4-2.6a7.6 7.6 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z";
    pub const USERS: &str = "M16 19v-1a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v1M9 10a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm13 9v-1a4 4 0 0 0-3-3.9M16 4.1a3 3 0 0 1 0 5.8";
    pub const ACCOUNT: &str = "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z";
    pub const APPS: &str = "M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z";
    pub const TEMPLATES: &str = "M7 3h7l5 5v13H7zM14 3v5h5M10 13h6M10 17h6";
    pub const HISTORY: &str = "M12 8v4l3 2M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5";
    pub const MENU: &str = "M4 6h16M4 12h16M4 18h16";
    pub const SIGN_OUT: &str = "M15 17l5-5-5-5M20 12H9M12 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h7";
    pub const ALERT: &str =
        "M12 9v4m0 4h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z";
}

/// The Berth mark: a ship's wheel in a rounded square.
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <span class="inline-flex items-center gap-2 font-semibold tracking-tight">
            <svg class="h-7 w-7" viewBox="0 0 32 32" aria-hidden="true">
                <rect width="32" height="32" rx="7" class="fill-sky-600" />
                <circle cx="16" cy="16" r="6" fill="none" stroke="white" stroke-width="2.2" />
                <path d="M16 5v22M5 16h22M8.2 8.2l15.6 15.6M23.8 8.2 8.2 23.8" stroke="white" stroke-width="1.6" />
                <circle cx="16" cy="16" r="2" fill="white" />
            </svg>
            <span class="text-lg">"Berth"</span>
        </span>
    }
}

/// A bordered panel with a title.
#[component]
pub fn Card(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h2 class="mb-4 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">{title}</h2>
            {children()}
        </section>
    }
}

/// A label and a value in a definition list.
#[component]
pub fn Fact(label: &'static str, #[prop(into)] value: String, #[prop(optional)] testid: &'static str) -> impl IntoView {
    let title = value.clone();
    view! {
        <div class="flex justify-between gap-4 border-b border-slate-100 py-2 text-sm last:border-0 dark:border-slate-800">
            <dt class="text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="truncate text-right font-medium" data-testid=testid title=title>{value}</dd>
        </div>
    }
}

/// A red banner for an error that is not about one field.
#[component]
pub fn ErrorBanner(#[prop(into)] message: String, #[prop(optional)] testid: &'static str) -> impl IntoView {
    view! {
        <div role="alert" data-testid=testid class="flex items-start gap-2 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
            <Icon path=icons::ALERT class="mt-0.5 h-4 w-4 shrink-0" />
            <span>{message}</span>
        </div>
    }
}

/// A labelled input with the message of the error about it, if any.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(optional)] hint: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-sm font-medium">{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                autofocus=autofocus
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=error_id.clone()
                class="block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm outline-none focus:border-sky-500 focus:ring-2 focus:ring-sky-500/30 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-950"
            />
            {(!hint.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{hint}</p> })}
            <p id=error_id class="min-h-4 text-xs text-red-600 dark:text-red-400" data-testid=format!("error-{name}")>
                {move || error.get()}
            </p>
        </div>
    }
}

/// The primary button of a form; shows progress while the action runs.
#[component]
pub fn SubmitButton(label: &'static str, busy_label: &'static str, #[prop(into)] busy: Signal<bool>) -> impl IntoView {
    view! {
        <button
            type="submit"
            disabled=move || busy.get()
            class="w-full rounded-md bg-sky-700 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-sky-800 focus:outline-none focus:ring-2 focus:ring-sky-500/50 disabled:cursor-wait disabled:opacity-70"
        >
            {move || if busy.get() { busy_label } else { label }}
        </button>
    }
}

/// A signal that counts up every `every` in the browser (never on the server), for pages that
/// refresh themselves; the timer stops when the page is left.
pub fn ticker(every: std::time::Duration) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || set_tick.update(|t| *t += 1), every) {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}

/// The numeric route parameter `name` of a page whose path starts with `prefix`, kept while the
/// router leaves the page: a page left for another route with a parameter of the same name
/// (`/clusters/2` for `/jobs/6`) must not load that id as its own on the way out.
pub fn page_id(prefix: &'static str, name: &'static str) -> Memo<i64> {
    let params = leptos_router::hooks::use_params_map();
    let location = leptos_router::hooks::use_location();
    Memo::new(move |prev: Option<&i64>| {
        let here = location.pathname.with(|p| p.starts_with(prefix));
        match params.read().get(name).and_then(|s| s.parse::<i64>().ok()) {
            Some(id) if here => id,
            _ => prev.copied().unwrap_or(0),
        }
    })
}

/// A coloured pill for a state word (`ready`, `down`, `running`, …).
#[component]
pub fn StatusBadge(#[prop(into)] status: String, #[prop(optional)] testid: &'static str) -> impl IntoView {
    let tone = match status.as_str() {
        "ready" | "succeeded" | "active" | "running" | "done" | "resolved" | "up" | "current" | "complete" => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        "creating" | "pending" | "removing" | "deleting" | "pause" | "preparing" | "starting" | "assigned"
        | "behind" | "probe pending" => "bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-200",
        "degraded"
        | "drain"
        | "unreachable"
        | "missing"
        | "unknown"
        | "probe failing"
        | "missed"
        | "ejected: refused connections" => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
        "down" | "failed" | "rejected" | "firing" => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
        _ => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    };
    view! {
        <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-semibold {tone}") data-testid=testid>
            {status}
        </span>
    }
}

/// A horizontal bar filled to `percent` (SVG, so no inline styles are needed under the CSP).
#[component]
pub fn ProgressBar(
    #[prop(into)] percent: Signal<u8>,
    #[prop(optional)] failed: Signal<bool>,
    #[prop(default = "Progress")] label: &'static str,
) -> impl IntoView {
    view! {
        <div role="progressbar" aria-label=label aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || percent.get() data-testid="progress">
            <svg class="h-3 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" viewBox="0 0 100 3" preserveAspectRatio="none">
                <rect
                    x="0" y="0" height="3"
                    width=move || percent.get().min(100)
                    class=move || if failed.get() { "fill-red-500" } else { "fill-sky-500" }
                ></rect>
            </svg>
        </div>
    }
}

/// A secondary button.
pub const BUTTON: &str = "inline-flex items-center gap-1 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 shadow-sm hover:bg-slate-50 disabled:opacity-50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200 dark:hover:bg-slate-800";
/// The primary button.
pub const PRIMARY: &str = "inline-flex items-center gap-1 rounded-md bg-sky-700 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-sky-800 disabled:opacity-50";
/// A destructive button.
pub const DANGER: &str = "inline-flex items-center gap-1 rounded-md bg-red-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-red-500 disabled:opacity-50";
/// A text input.
pub const INPUT: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm outline-none focus:border-sky-500 focus:ring-2 focus:ring-sky-500/30 dark:border-slate-700 dark:bg-slate-950";

/// A page title with an optional line under it and actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="flex flex-wrap items-end justify-between gap-3">
            <div class="min-w-0">
                <h1 class="truncate text-2xl font-semibold tracking-tight" data-testid="page-title">{title}</h1>
                {(!subtitle.is_empty()).then(|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">{subtitle}</p> })}
            </div>
            <div class="flex flex-wrap items-center gap-2">{children.map(|c| c())}</div>
        </div>
    }
}

/// A full page navigation: used after signing in or out so that everything renders for the new user.
pub fn go_to(path: &str) {
    let _ = window().location().set_href(path);
}

/// A secret or one-time link shown once after it was issued (API token, invite, shared link),
/// with a button that copies it.
#[component]
pub fn ShownOnce(#[prop(into)] note: String, #[prop(into)] value: String, testid: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    view! {
        <div class="mb-3 rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950">
            <p class="font-medium">{note}</p>
            <div class="mt-1 flex items-start gap-2">
                <code class="block min-w-0 flex-1 break-all font-mono" data-testid=testid>{value}</code>
                <button type="button" class=BUTTON data-testid="copy" on:click=move |_| {
                    copy_text(&text);
                    copied.set(true);
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
        </div>
    }
}

/// Puts `text` on the clipboard (browser only; nothing happens where the clipboard is refused).
pub fn copy_text(text: &str) {
    use leptos::wasm_bindgen::JsCast;
    let navigator = window().navigator();
    let Ok(clipboard) = js_sys::Reflect::get(&navigator, &"clipboard".into()) else { return };
    let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into()) else { return };
    if let Some(write) = write.dyn_ref::<js_sys::Function>() {
        let _ = write.call1(&clipboard, &text.into());
    }
}

/// A short message that says an action worked; it goes by itself after a few seconds.
#[derive(Clone, Copy)]
pub struct Toasts(RwSignal<Vec<(u64, String)>>);

impl Toasts {
    /// Shows `message` for five seconds.
    pub fn say(&self, message: impl Into<String>) {
        let list = self.0;
        let id = list.with_untracked(|l| l.last().map_or(0, |t| t.0 + 1));
        list.update(|l| l.push((id, message.into())));
        set_timeout(move || list.update(|l| l.retain(|t| t.0 != id)), std::time::Duration::from_secs(5));
    }
}

/// The console's toasts (context); a page outside the console gets a list nobody shows.
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(|| Toasts(RwSignal::new(Vec::new())))
}

impl Toasts {
    /// New toasts, provided to the pages below the caller.
    pub fn provide() -> Toasts {
        let toasts = Toasts(RwSignal::new(Vec::new()));
        provide_context(toasts);
        toasts
    }
}

/// Shows the toasts in a polite live region.
#[component]
pub fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div role="status" aria-live="polite" class="pointer-events-none fixed bottom-4 right-4 z-40 flex flex-col items-end gap-2">
            <For each=move || toasts.0.get() key=|t| t.0 let:t>
                <p class="pointer-events-auto rounded-lg bg-slate-900 px-4 py-2 text-sm text-white shadow-lg dark:bg-slate-100 dark:text-slate-900" data-testid="toast">{t.1}</p>
            </For>
        </div>
    }
}

/// Says `message` (an expression, evaluated then) in a toast each time the server action succeeds.
#[macro_export]
macro_rules! toast_on_success {
    ($action:expr, $message:expr) => {{
        let toasts = $crate::components::ui::use_toasts();
        let action = $action;
        leptos::prelude::Effect::new(move |prev: Option<usize>| {
            let v = action.version().get();
            if prev.is_some_and(|p| p != v) && action.value().with(|r| matches!(r, Some(Ok(_)))) {
                toasts.say($message);
            }
            v
        });
    }};
}

/// A path on this console as a full address, to copy and send (browser only).
pub fn full_address(path: &str) -> String {
    format!("{}{path}", window().location().origin().unwrap_or_default())
}
