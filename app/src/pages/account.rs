//! One's own account: who one is and what one may do, the password, the sessions signed in
//! elsewhere, and personal API tokens for scripts and CI.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::ram::{get_account, ChangePassword, CreateToken, RevokeSession, RevokeToken, SessionRow, TokenRow};
use crate::components::ui::{
    go_to, Card, ErrorBanner, Fact, Field, PageHeader, ShownOnce, StatusBadge, BUTTON, INPUT, PRIMARY,
};
use crate::error::AppError;
use crate::format;

/// A select that sits in a form.
pub const SELECT: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950";

/// The first error among several actions' latest results.
pub fn first_error<const N: usize>(errors: [Option<AppError>; N]) -> Option<AppError> {
    errors.into_iter().flatten().next()
}

pub fn err<T: Clone + Send + Sync + 'static>(v: Option<Result<T, AppError>>) -> Option<AppError> {
    v.and_then(Result::err)
}

#[component]
pub fn Account() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let revoke_session = ServerAction::<RevokeSession>::new();
    let create_token = ServerAction::<CreateToken>::new();
    let revoke_token = ServerAction::<RevokeToken>::new();
    let page = crate::codec::resource(
        move || {
            (
                change.version().get(),
                revoke_session.version().get(),
                create_token.version().get(),
                revoke_token.version().get(),
            )
        },
        |_| get_account(),
    );
    let error = move || {
        first_error([
            err(change.value().get()),
            err(revoke_session.value().get()),
            err(create_token.value().get()),
            err(revoke_token.value().get()),
        ])
    };
    let field_error = move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => {
                    let admin = p.user.admin;
                    let clusters = p.clusters.clone();
                    view! {
                        <div class="grid gap-6 lg:grid-cols-2">
                            <Card title="Profile">
                                <dl>
                                    <Fact label="Username" value=p.user.username.clone() testid="account-username" />
                                    <Fact label="Display name" value=p.user.display_name.clone() />
                                    <Fact label="Role" value=if admin { "Admin (everything)".to_string() } else { "User".to_string() } testid="account-role" />
                                </dl>
                                {(!admin).then(|| view! {
                                    <h3 class="mt-4 text-sm font-semibold">"Access"</h3>
                                    <ul class="mt-1 space-y-1 text-sm" data-testid="account-grants">
                                        {if p.user.grants.is_empty() {
                                            view! { <li class="text-slate-500">"No clusters yet; ask an admin for access."</li> }.into_any()
                                        } else {
                                            p.user.grants.iter().map(|g| view! { <li>{format!("{} on {}", g.role_label, g.cluster_name)}</li> }).collect_view().into_any()
                                        }}
                                    </ul>
                                })}
                            </Card>
                            <Card title="Change password">
                                <ActionForm action=change>
                                    <div class="space-y-2">
                                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" required=true error=field_error("current_password") />
                                        <Field label="New password" name="password" kind="password" autocomplete="new-password" required=true hint="At least 12 characters; common passwords are refused." error=field_error("password") />
                                        <Field label="Repeat the new password" name="confirm_password" kind="password" autocomplete="new-password" required=true error=field_error("confirm_password") />
                                        <button type="submit" class=PRIMARY data-testid="change-password">"Change password"</button>
                                        {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! {
                                            <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="password-changed">"Password changed. Every other session of this account has ended."</p>
                                        })}
                                    </div>
                                </ActionForm>
                            </Card>
                        </div>
                        <Card title="Sessions">
                            <SessionList sessions=p.sessions.clone() user=p.user.id now=p.now revoke=revoke_session />
                        </Card>
                        <Card title="API tokens">
                            <p class="mb-3 text-sm text-slate-500">"For scripts and CI: send "<code>"Authorization: Bearer <token>"</code>" to "<a class="text-sky-700 underline dark:text-sky-300" href="/api/v1/openapi.json">"the REST API"</a>". A token can do at most what its scope and your own access allow."</p>
                            {move || create_token.value().get().and_then(Result::ok).map(|t| view! {
                                <ShownOnce note="Your new token: copy it now, it is not shown again." value=t.secret testid="new-token" />
                            })}
                            <TokenList tokens=p.tokens.clone() now=p.now revoke=revoke_token />
                            <ActionForm action=create_token>
                                <div class="mt-4 grid gap-3 sm:grid-cols-5 sm:items-end">
                                    <label class="block space-y-1 sm:col-span-2">
                                        <span class="text-sm font-medium">"Name"</span>
                                        <input name="name" class=INPUT placeholder="ci-deploy" data-testid="token-name" />
                                        <span class="block text-xs text-red-600">{move || field_error("name").get()}</span>
                                    </label>
                                    <label class="block space-y-1">
                                        <span class="text-sm font-medium">"Role"</span>
                                        <select name="role" class=SELECT data-testid="token-role">
                                            <option value="viewer">"Viewer"</option>
                                            <option value="operator">"Operator"</option>
                                            <option value="cluster_admin">"Cluster admin"</option>
                                            {admin.then(|| view! { <option value="admin">"Admin"</option> })}
                                        </select>
                                    </label>
                                    <label class="block space-y-1">
                                        <span class="text-sm font-medium">"Cluster"</span>
                                        <select name="cluster" class=SELECT data-testid="token-cluster">
                                            <option value="all">"All I can see"</option>
                                            {clusters.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                                        </select>
                                    </label>
                                    <label class="block space-y-1">
                                        <span class="text-sm font-medium">"Days valid"</span>
                                        <input name="days" type="number" min="1" max="365" value="30" class=INPUT />
                                        <span class="block text-xs text-red-600">{move || field_error("days").get()}</span>
                                    </label>
                                </div>
                                <div class="mt-3"><button type="submit" class=PRIMARY data-testid="create-token">"Create token"</button></div>
                            </ActionForm>
                        </Card>
                    }
                    .into_any()
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
    view! {
        <Title text="Account · Berth" />
        <div class="max-w-5xl space-y-6">
            <PageHeader title="Account" subtitle="Your password, sessions and API tokens." />
            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="account-error" /> })}
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

/// Sessions with a revoke button each (one's own, or a user's on their admin page).
#[component]
pub fn SessionList(
    sessions: Vec<SessionRow>,
    user: i64,
    now: i64,
    revoke: ServerAction<RevokeSession>,
) -> impl IntoView {
    if sessions.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="no-sessions">"No one is signed in."</p> }
            .into_any();
    }
    view! {
        <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="sessions">
            {sessions.into_iter().map(|s| view! {
                <li class="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="session" data-current=s.current.to_string()>
                    <div class="min-w-0">
                        <div class="truncate font-medium">{if s.agent.is_empty() { "Unknown browser".to_string() } else { s.agent.clone() }}</div>
                        <div class="text-xs text-slate-500">
                            {format!("from {} · signed in {} · active {}", s.source, s.signed_in_at.map_or("—".into(), format::date_utc), format::ago(s.seen_at.unwrap_or(0), now))}
                            {s.current.then(|| view! { <span class="ml-2 font-semibold text-emerald-700 dark:text-emerald-300">"this session"</span> })}
                        </div>
                    </div>
                    <ActionForm action=revoke>
                        <input type="hidden" name="user" value=user />
                        <input type="hidden" name="session" value=s.id.clone() />
                        <button type="submit" class=BUTTON data-testid="revoke-session">{if s.current { "Sign out here" } else { "Revoke" }}</button>
                    </ActionForm>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// API tokens with their scope, expiry, last use and a revoke button.
#[component]
pub fn TokenList(tokens: Vec<TokenRow>, now: i64, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="no-tokens">"No API tokens."</p> }.into_any();
    }
    view! {
        <div tabindex="0" role="region" aria-label="Tokens" class="overflow-x-auto">
            <table class="min-w-full whitespace-nowrap text-sm" data-testid="tokens">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="py-2 pr-4">"Name"</th>
                        <th class="py-2 pr-4">"Token"</th>
                        <th class="py-2 pr-4">"Scope"</th>
                        <th class="py-2 pr-4">"Expires"</th>
                        <th class="py-2 pr-4">"Last used"</th>
                        <th class="py-2">"State"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {tokens.into_iter().map(|t| {
                        let state = if t.revoked_at.is_some() { "revoked" } else if t.expires_at <= now { "expired" } else { "active" };
                        let scope = format!("{} · {}", t.role.replace('_', " "), t.cluster_id.map_or("all clusters".to_string(), |c| format!("cluster {c}")));
                        view! {
                            <tr data-testid=format!("token-{}", t.name) data-state=state>
                                <td class="py-2 pr-4 font-medium">{t.name.clone()}</td>
                                <td class="py-2 pr-4 font-mono text-xs text-slate-500">{format!("{}…", t.prefix)}</td>
                                <td class="py-2 pr-4">{scope}</td>
                                <td class="py-2 pr-4 text-slate-500">{format::date_utc(t.expires_at)}</td>
                                <td class="py-2 pr-4 text-slate-500">{format::ago(t.last_used_at.unwrap_or(0), now)}</td>
                                <td class="py-2">
                                    {if state == "active" {
                                        view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=t.id />
                                                <button type="submit" class=BUTTON data-testid="revoke-token">"Revoke"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <StatusBadge status=state /> }.into_any()
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
