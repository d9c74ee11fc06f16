//! The Compose editor: a text area with line numbers whose problem lines are marked, the list of
//! problems by line (errors and warnings the server found), and a form for the template's variables.

use std::collections::BTreeMap;

use leptos::html;
use leptos::prelude::*;

use crate::api::app::{CheckRow, VariableRow};
use crate::components::ui::INPUT;
use crate::format;

/// The editor. `check` holds the latest check of the text (none before the first).
#[component]
pub fn ComposeEditor(
    text: RwSignal<String>,
    #[prop(into)] check: Signal<Option<CheckRow>>,
    /// Called when the text was changed and left (a good moment to check it).
    on_change: Callback<()>,
) -> impl IntoView {
    let gutter = NodeRef::<html::Pre>::new();
    let area = NodeRef::<html::Textarea>::new();
    // A problem clicked: its line selected in the text and scrolled into view.
    let jump = Callback::new(move |line: usize| {
        let Some(el) = area.get_untracked() else { return };
        let (start, end) = text.with_untracked(|t| line_span(t, line));
        let _ = el.focus();
        let _ = el.set_selection_range(start as u32, end as u32);
        el.set_scroll_top(((line.saturating_sub(3)) * 20) as i32);
    });
    let lines = move || text.with(|t| t.lines().count().max(1) + 1);
    let marked = move |line: usize| -> &'static str {
        check.with(|c| {
            let Some(c) = c else { return "" };
            if c.diagnostics.iter().any(|d| d.line == line && d.severity == "error") {
                "bg-red-200 text-red-900 dark:bg-red-900 dark:text-red-100"
            } else if c.diagnostics.iter().any(|d| d.line == line) {
                "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100"
            } else {
                ""
            }
        })
    };
    view! {
        <div class="flex overflow-hidden rounded-md border border-slate-300 bg-white font-mono text-sm dark:border-slate-700 dark:bg-slate-950">
            <pre node_ref=gutter class="h-96 select-none overflow-hidden border-r border-slate-200 bg-slate-50 px-2 py-2 text-right text-slate-400 dark:border-slate-800 dark:bg-slate-900" aria-hidden="true" data-testid="gutter">
                {move || (1..=lines()).map(|n| {
                    let class = marked(n);
                    view! { <div class=class data-line=n data-marked=(!class.is_empty()).to_string()>{n}</div> }
                }).collect_view()}
            </pre>
            <textarea
                node_ref=area
                aria-label="Compose template"
                class="h-96 flex-1 resize-y whitespace-pre bg-transparent px-3 py-2 leading-5 outline-none"
                spellcheck="false" wrap="off" data-testid="compose"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:change=move |_| on_change.run(())
                on:scroll=move |ev| {
                    let top = event_target::<web_sys::HtmlTextAreaElement>(&ev).scroll_top();
                    if let Some(g) = gutter.get() {
                        g.set_scroll_top(top);
                    }
                }
            ></textarea>
        </div>
        {move || check.get().map(|c| view! { <Problems check=c jump /> })}
    }
}

/// Where line `line` (from 1) of `text` starts and ends, in UTF-16 units as the text area counts.
fn line_span(text: &str, line: usize) -> (usize, usize) {
    let mut start = 0;
    for (i, l) in text.split('\n').enumerate() {
        let len = l.encode_utf16().count();
        if i + 1 == line {
            return (start, start + len);
        }
        start += len + 1;
    }
    (start, start)
}

/// The problems of a check, each at its line; a click selects the line in the editor.
#[component]
fn Problems(check: CheckRow, jump: Callback<usize>) -> impl IntoView {
    let ok = check.ok;
    let errors = check.diagnostics.iter().filter(|d| d.severity == "error").count() + check.violations.len();
    let warnings = check.diagnostics.iter().filter(|d| d.severity != "error").count();
    let summary = match (errors, warnings) {
        (0, 0) => String::new(),
        (0, w) => format::count(w as i64, "warning"),
        (e, 0) => format::count(e as i64, "error"),
        (e, w) => format!("{} and {}", format::count(e as i64, "error"), format::count(w as i64, "warning")),
    };
    let count_class = if errors == 0 {
        "font-medium text-amber-700 dark:text-amber-300"
    } else {
        "font-medium text-red-700 dark:text-red-300"
    };
    view! {
        <div class="space-y-1 text-sm" data-testid="problems" data-ok=ok.to_string()>
            {(ok && errors == 0).then(|| view! {
                <p class="text-emerald-700 dark:text-emerald-300" data-testid="check-ok">
                    {format!("{}: {} — {}", if warnings == 0 { "No problems" } else { "No errors" }, format::count(check.services.len() as i64, "service"), check.services.join(", "))}
                </p>
            })}
            {(!summary.is_empty()).then(|| view! {
                <p class=count_class data-testid="problem-count">{summary}</p>
            })}
            <ul class="space-y-1">
                {check.diagnostics.into_iter().map(|d| {
                    let error = d.severity == "error";
                    let class = if error { "text-red-700 dark:text-red-300" } else { "text-amber-700 dark:text-amber-300" };
                    let line = d.line;
                    let place = if line > 0 { format!("Line {line}") } else { "Template".to_string() };
                    view! {
                        <li class=class data-testid="diagnostic" data-line=line data-severity=d.severity.clone()>
                            {if line > 0 {
                                view! { <button type="button" class="font-semibold underline decoration-dotted hover:decoration-solid" title="Show this line" on:click=move |_| jump.run(line)>{place}</button> }.into_any()
                            } else {
                                view! { <span class="font-semibold">{place}</span> }.into_any()
                            }}
                            {(!d.field.is_empty()).then(|| view! { " · "<span class="font-mono">{d.field.clone()}</span> })}
                            " · "{d.message}
                        </li>
                    }
                }).collect_view()}
                {check.violations.into_iter().map(|v| view! {
                    <li class="text-red-700 dark:text-red-300" data-testid="violation">"Not permitted for your role: "{v}</li>
                }).collect_view()}
            </ul>
        </div>
    }
}

/// Inputs for a template's variables. Values live in `values`; `secret_kept` names variables whose
/// current value is kept when left empty.
#[component]
pub fn VariablesForm(
    #[prop(into)] variables: Signal<Vec<VariableRow>>,
    values: RwSignal<BTreeMap<String, String>>,
    #[prop(optional)] kept: Vec<String>,
) -> impl IntoView {
    view! {
        {move || {
            let vars = variables.get();
            (!vars.is_empty()).then(|| {
                let kept = kept.clone();
                view! {
                    <div class="grid gap-3 sm:grid-cols-2" data-testid="variables">
                        {vars.into_iter().map(|v| {
                            let name = v.name.clone();
                            let key = v.name.clone();
                            let is_kept = kept.contains(&v.name);
                            let hint = match (&v.default, v.required, is_kept) {
                                (_, _, true) => "secret: leave empty to keep the current value".to_string(),
                                (Some(d), _, _) => format!("default: {d}"),
                                (None, true, _) => v.message.clone().unwrap_or_else(|| "required".into()),
                                (None, false, _) => String::new(),
                            };
                            view! {
                                <label class="block space-y-1">
                                    <span class="font-mono text-sm font-medium">{v.name.clone()}{v.required.then_some(" *")}</span>
                                    <input
                                        class=INPUT data-testid=format!("var-{name}") autocomplete="off"
                                        placeholder=v.default.clone().unwrap_or_default()
                                        prop:value=move || values.with(|m| m.get(&key).cloned().unwrap_or_default())
                                        on:input=move |ev| {
                                            let value = event_target_value(&ev);
                                            values.update(|m| { m.insert(name.clone(), value); });
                                        }
                                    />
                                    <span class="block text-xs text-slate-500">{hint}</span>
                                </label>
                            }
                        }).collect_view()}
                    </div>
                }
            })
        }}
    }
}

/// The values worth sending: empty ones are left out (the template's default, or the kept value, applies).
pub fn filled(values: &BTreeMap<String, String>) -> Vec<(String, String)> {
    values.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::line_span;

    #[test]
    fn lines_are_found_in_utf16_units() {
        let text = "services:\n  wéb:\n    image: x";
        assert_eq!(line_span(text, 1), (0, 9));
        assert_eq!(line_span(text, 2), (10, 16));
        assert_eq!(line_span(text, 3), (17, 29));
        assert_eq!(line_span(text, 9), (30, 30));
    }
}
