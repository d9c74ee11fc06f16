//! The template catalog: saved Compose templates with a description and the variables they use;
//! admins save (each save is a version) and delete them; anyone deploys from them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::app::{get_template, get_templates, CheckTemplate, DeleteTemplate, SaveTemplate, TemplatePage};
use crate::components::compose_editor::ComposeEditor;
use crate::components::ui::{go_to, ErrorBanner, PageHeader, BUTTON, INPUT, PRIMARY};
use crate::format;

#[component]
pub fn Templates() -> impl IntoView {
    let user = crate::components::layout::use_user();
    let templates = Resource::new(|| (), |_| get_templates());
    let body = move || {
        Suspend::new(async move {
            match templates.await {
                Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-500">"The catalog is empty."</p> }.into_any(),
                Ok(list) => view! {
                    <ul class="grid gap-4 sm:grid-cols-2">
                        {list.into_iter().map(|t| { let item_name = t.name.clone(); view! {
                            <li class="space-y-2 rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="template" data-name=item_name>
                                <div class="flex items-center gap-2">
                                    <A href=format!("/templates/{}", t.id) attr:class="font-semibold text-sky-700 hover:underline dark:text-sky-300">{t.name.clone()}</A>
                                    <span class="text-xs text-slate-500">{format!("v{} · {}", t.version, format::date_utc(t.updated_at))}</span>
                                </div>
                                <p class="text-sm text-slate-600 dark:text-slate-300">{t.description.clone()}</p>
                                <p class="text-xs text-slate-500">{if t.variables.is_empty() { "No variables".to_string() } else { format!("Variables: {}", t.variables.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")) }}</p>
                                <A href=format!("/apps/new?template={}", t.id) attr:class=PRIMARY attr:data-testid="deploy-template">"Deploy"</A>
                            </li>
                        }}).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="Templates · Berth" />
        <div class="mx-auto max-w-6xl space-y-6">
            <PageHeader title="Templates" subtitle="Compose templates with variables, ready to deploy to any cluster.">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = user.await.ok().flatten().is_some_and(|u| u.admin);
                        admin.then(|| view! { <A href="/templates/new" attr:class=BUTTON attr:data-testid="new-template">"New template"</A> })
                    })}
                </Transition>
            </PageHeader>
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

/// A template's editor (`/templates/new` or `/templates/:id`) with its versions.
#[component]
pub fn TemplateEdit() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let page = Resource::new(id, |id| async move {
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
        <div class="mx-auto max-w-5xl space-y-6">
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
                <button type="button" class=BUTTON data-testid="delete-template" on:click=move |_| { if let Some(id) = id { delete.dispatch(DeleteTemplate { id }); } }>"Delete"</button>
            })}
        </PageHeader>
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
