//! The template catalog: saved Compose templates with a description and the variables they use;
//! admins save (each save is a version) and delete them; anyone deploys from them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use std::collections::BTreeSet;

use crate::api::app::{
    delete_template, get_template, list_templates, CheckTemplate, DeleteTemplate, SaveTemplate, TemplatePage,
};
use crate::components::compose_editor::ComposeEditor;
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::ui::{go_to, use_toasts, ErrorBanner, PageHeader, BUTTON, DANGER, INPUT, PRIMARY};
use crate::format;

#[component]
pub fn Templates() -> impl IntoView {
    let user = crate::components::layout::use_user();
    let args = use_list_args();
    // Bumped after a bulk delete so the page reloads.
    let deleted = RwSignal::new(0u32);
    let templates = crate::codec::resource(
        move || (args.get(), deleted.get()),
        |(a, _)| list_templates(a.q, a.sort, a.desc, a.page),
    );
    let selected = RwSignal::new(BTreeSet::<i64>::new());
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let toasts = use_toasts();
    let delete_selected = move |_| {
        let ids: Vec<i64> = selected.get_untracked().into_iter().collect();
        confirming.set(false);
        leptos::task::spawn_local(async move {
            let mut done = 0;
            for id in ids {
                match delete_template(id).await {
                    Ok(()) => {
                        done += 1;
                        selected.update(|s| {
                            s.remove(&id);
                        });
                    }
                    Err(e) => {
                        error.set(Some(e.display()));
                        break;
                    }
                }
            }
            if done > 0 {
                toasts.say(format!("Deleted {}", format::count(done, "template")));
            }
            deleted.update(|d| *d += 1);
        });
    };
    let body = move || {
        Suspend::new(async move {
            let admin = user.await.ok().flatten().is_some_and(|u| u.admin);
            match templates.await {
                Ok(p) if p.total == 0 && args.with_untracked(|a| a.q.is_empty()) => {
                    view! { <p class="text-sm text-slate-500" data-testid="no-templates">"The catalog is empty."</p> }
                        .into_any()
                }
                Ok(p) => {
                    let page_ids: Vec<i64> = p.rows.iter().map(|t| t.id).collect();
                    let all_ids = page_ids.clone();
                    let all =
                        move || !page_ids.is_empty() && selected.with(|s| page_ids.iter().all(|id| s.contains(id)));
                    view! {
                    <div tabindex="0" role="region" aria-label="Templates" class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                        <table class="min-w-full text-sm" data-testid="templates">
                            <thead><tr>
                                {admin.then(|| view! {
                                    <th class="w-8 px-3 py-2"><input type="checkbox" aria-label="Select all on this page" data-testid="select-all"
                                        prop:checked=all.clone()
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            selected.update(|s| for id in &all_ids { if on { s.insert(*id); } else { s.remove(id); } });
                                        } /></th>
                                })}
                                <SortHeader label="Template" column="name" args />
                                <th class=TH>"Description"</th>
                                <th class=TH>"Variables"</th>
                                <SortHeader label="Version" column="version" args />
                                <SortHeader label="Changed" column="changed" args />
                                <th class=TH><span class="sr-only">"Deploy"</span></th>
                            </tr></thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {p.rows.is_empty().then(|| view! { <tr><td colspan="7" class=TD data-testid="no-match">"No template matches the search."</td></tr> })}
                                {p.rows.into_iter().map(|t| {
                                    let id = t.id;
                                    let item_name = t.name.clone();
                                    let label = format!("Select {}", t.name);
                                    view! {
                                    <tr data-testid="template" data-name=item_name>
                                        {admin.then(|| view! {
                                            <td class=TD><input type="checkbox" aria-label=label data-testid="select"
                                                prop:checked=move || selected.with(|s| s.contains(&id))
                                                on:change=move |ev| { let on = event_target_checked(&ev); selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } }); } /></td>
                                        })}
                                        <td class=TD><A href=format!("/templates/{id}") attr:class="font-semibold text-sky-700 hover:underline dark:text-sky-300">{t.name.clone()}</A></td>
                                        <td class=format!("{TD} max-w-xs truncate text-slate-600 dark:text-slate-300") title=t.description.clone()>{t.description.clone()}</td>
                                        <td class=format!("{TD} text-xs text-slate-500")>{if t.variables.is_empty() { "none".to_string() } else { t.variables.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ") }}</td>
                                        <td class=TD>{format!("v{}", t.version)}</td>
                                        <td class=format!("{TD} whitespace-nowrap")>{format::date_utc(t.updated_at)}</td>
                                        <td class=TD><A href=format!("/apps/new?template={id}") attr:class=PRIMARY attr:data-testid="deploy-template">"Deploy"</A></td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <Pager total=p.total page=p.page per_page=p.per_page args noun="template" />
                }.into_any()
                }
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() /> }.into_any()
                }
            }
        })
    };
    let count = move || selected.with(BTreeSet::len);
    view! {
        <Title text="Templates · Berth" />
        <div class="space-y-6">
            <PageHeader title="Templates" subtitle="Compose templates with variables, ready to deploy to any cluster.">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = user.await.ok().flatten().is_some_and(|u| u.admin);
                        admin.then(|| view! { <A href="/templates/new" attr:class=BUTTON attr:data-testid="new-template">"New template"</A> })
                    })}
                </Transition>
            </PageHeader>
            <div class="flex flex-wrap items-center justify-between gap-3">
                <ListSearch args label="Search templates" placeholder="Name, description, author" />
                {move || (count() > 0).then(|| view! {
                    <button type="button" class=DANGER data-testid="delete-selected" on:click=move |_| confirming.set(true)>
                        {format!("Delete {}", format::count(count() as i64, "template"))}
                    </button>
                })}
            </div>
            {move || (confirming.get() && count() > 0).then(|| view! {
                <div role="alertdialog" aria-label="Delete templates" data-testid="bulk-confirm" class="flex flex-wrap items-center gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950">
                    <span class="flex-1">{format!("Delete {}? Apps deployed from them keep running; their versions are kept.", format::count(count() as i64, "template"))}</span>
                    <button type="button" class=DANGER data-testid="bulk-yes" on:click=delete_selected>"Delete"</button>
                    <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            })}
            {move || error.get().map(|e| view! { <ErrorBanner message=e testid="bulk-error" /> })}
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

const TH: &str = "px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500";
const TD: &str = "px-3 py-2 align-top";

/// A template's editor (`/templates/new` or `/templates/:id`) with its versions.
#[component]
pub fn TemplateEdit() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let page = crate::codec::resource(id, |id| async move {
        match id {
            Some(id) => get_template(id).await.map(Some),
            None => Ok(None),
        }
    });
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <Editor p /> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
            }
        })
    };
    view! {
        <Title text="Template · Berth" />
        <div class="max-w-5xl space-y-6">
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

#[component]
fn Editor(p: Option<TemplatePage>) -> impl IntoView {
    let id = p.as_ref().map(|p| p.template.id);
    let manage = p.as_ref().is_none_or(|p| p.manage);
    let name = RwSignal::new(p.as_ref().map(|p| p.template.name.clone()).unwrap_or_default());
    let description = RwSignal::new(p.as_ref().map(|p| p.template.description.clone()).unwrap_or_default());
    let text = RwSignal::new(p.as_ref().map(|p| p.template.compose.clone()).unwrap_or_default());
    let check = ServerAction::<CheckTemplate>::new();
    let save = ServerAction::<SaveTemplate>::new();
    let delete = ServerAction::<DeleteTemplate>::new();
    let confirm_delete = RwSignal::new(false);
    let run_check = Callback::new(move |_| {
        check.dispatch(CheckTemplate { compose: text.get_untracked() });
    });
    let result = Signal::derive(move || check.value().get().and_then(Result::ok));
    let field_error = move |field: &str| save.value().get().and_then(Result::err).and_then(|e| e.for_field(field));
    let navigate = use_navigate();
    let nav = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            nav(&format!("/templates/{saved}"), Default::default());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/templates", Default::default());
        }
    });
    let versions = p.as_ref().map(|p| p.versions.clone()).unwrap_or_default();
    let title = p.as_ref().map_or_else(|| "New template".to_string(), |p| format!("Template {}", p.template.name));
    view! {
        <PageHeader title=title subtitle="Variables are written ${NAME}, ${NAME:-default} or ${NAME:?message}; the deploy form asks for them.">
            {id.map(|id| view! { <A href=format!("/apps/new?template={id}") attr:class=PRIMARY>"Deploy"</A> })}
            {(manage && id.is_some()).then(|| view! {
                <button type="button" class=BUTTON data-testid="delete-template" on:click=move |_| confirm_delete.set(true)>"Delete"</button>
            })}
        </PageHeader>
        {move || confirm_delete.get().then(|| view! {
            <div role="alertdialog" aria-label="Delete the template" data-testid="delete-template-confirm" class="flex flex-wrap items-center gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950">
                <span class="flex-1">"Delete this template and its versions? Apps deployed from it keep running."</span>
                <button type="button" class=DANGER data-testid="delete-template-yes" on:click=move |_| { confirm_delete.set(false); if let Some(id) = id { delete.dispatch(DeleteTemplate { id }); } }>"Delete template"</button>
                <button type="button" class=BUTTON on:click=move |_| confirm_delete.set(false)>"Cancel"</button>
            </div>
        })}
        <div class="space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div class="grid gap-4 sm:grid-cols-2">
                <label class="block space-y-1">
                    <span class="text-sm font-medium">"Name"</span>
                    <input class=INPUT data-testid="template-name" aria-invalid=move || field_error("name").is_some().to_string() prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                    <span class="block min-h-4 text-xs text-red-600 dark:text-red-400" data-testid="error-name">{move || field_error("name")}</span>
                </label>
                <label class="block space-y-1">
                    <span class="text-sm font-medium">"Description"</span>
                    <input class=INPUT data-testid="template-description" aria-invalid=move || field_error("description").is_some().to_string() prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev)) />
                    <span class="block min-h-4 text-xs text-red-600 dark:text-red-400" data-testid="error-description">{move || field_error("description")}</span>
                </label>
            </div>
            <ComposeEditor text check=result on_change=run_check />
            {move || result.get().filter(|c| !c.variables.is_empty()).map(|c| view! {
                <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="template-variables">
                    "Variables: "{c.variables.iter().map(|v| match &v.default { Some(d) => format!("{} (default {d})", v.name), None => format!("{} (required)", v.name) }).collect::<Vec<_>>().join(", ")}
                </p>
            })}
            {move || save.value().get().and_then(Result::err).filter(|e| !matches!(e.field.as_deref(), Some("name" | "description"))).map(|e| view! { <ErrorBanner message=e.display() testid="save-error" /> })}
            {move || delete.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() /> })}
            <div class="flex justify-end gap-2">
                <button type="button" class=BUTTON on:click=move |_| run_check.run(())>"Check"</button>
                {manage.then(|| view! {
                    <button type="button" class=PRIMARY data-testid="save-template" disabled=move || save.pending().get() on:click=move |_| {
                        save.dispatch(SaveTemplate { id, name: name.get_untracked(), description: description.get_untracked(), compose: text.get_untracked() });
                    }>"Save"</button>
                })}
            </div>
        </div>
        {(!versions.is_empty()).then(|| view! {
            <div class="rounded-xl border border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
                <h2 class="mb-2 font-semibold">"Versions"</h2>
                <ul class="space-y-1">
                    {versions.into_iter().map(|v| view! {
                        <li data-testid="template-version">{format!("v{} · {} · {}", v.version, v.created_by, format::date_utc(v.created_at))}</li>
                    }).collect_view()}
                </ul>
            </div>
        })}
        {(!manage).then(|| view! { <p class="text-xs text-slate-500">"Only admins save templates."</p> })}
    }
}
