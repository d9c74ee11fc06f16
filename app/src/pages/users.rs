//! Users (admins only): every account with its role and access, creating accounts, and one user's
//! page with grants, sessions, tokens, password reset, disable and delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::account::{err, first_error, SessionList, TokenList, SELECT};
use crate::api::ram::{
    get_user, list_users, CreateUser, DeleteUser, Issued, ResetPassword, RevokeGrant, RevokeSession, RevokeToken,
    SetGrant, SetUserDisabled, SetUserRole, UserPage, UserRow,
};
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::ui::{
    full_address, go_to, Card, ErrorBanner, Fact, PageHeader, ShownOnce, StatusBadge, BUTTON, DANGER, INPUT, PRIMARY,
};
use crate::format;

const INLINE_PASSWORD: &str = "min-w-0 flex-1 rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950";

/// A one-time link to copy, with the console's address in front.
#[component]
fn LinkBox(issued: Issued, #[prop(into)] note: String) -> impl IntoView {
    let note = format!("{note} Valid until {}; shown only now.", format::date_utc(issued.expires_at));
    view! { <ShownOnce note value=full_address(&issued.secret) testid="issued-link" /> }
}

fn access_summary(u: &UserRow) -> String {
    if u.admin {
        return "everything".into();
    }
    if u.grants.is_empty() {
        return "nothing yet".into();
    }
    u.grants.iter().map(|g| format!("{} on {}", g.role_label, g.cluster_name)).collect::<Vec<_>>().join(", ")
}

#[component]
pub fn Users() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let args = use_list_args();
    let users = crate::codec::resource(
        move || (create.version().get(), args.get()),
        |(_, a)| list_users(a.q, a.sort, a.desc, a.page),
    );
    let list = move || {
        Suspend::new(async move {
            match users.await {
                Ok(p) => view! {
                    <Card title="Accounts">
                    <div class="mb-3"><ListSearch args label="Search accounts" placeholder="Username, name, role" /></div>
                    <div tabindex="0" role="region" aria-label="Accounts" class="overflow-x-auto">
                        <table class="min-w-full whitespace-nowrap text-sm" data-testid="users">
                            <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                                <tr>
                                    <SortHeader label="User" column="username" args />
                                    <SortHeader label="Role" column="role" args />
                                    <th class="py-2 pr-4">"Access"</th>
                                    <th class="py-2">"State"</th>
                                </tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {p.rows.is_empty().then(|| view! { <tr><td colspan="4" class="py-2 text-slate-500" data-testid="no-match">"No account matches the search."</td></tr> })}
                                {p.rows.into_iter().map(|u| {
                                    let state = if u.disabled { "disabled" } else if u.invite_expires_at.is_some() { "invited" } else { "active" };
                                    let testid = format!("user-{}", u.username);
                                    let access = access_summary(&u);
                                    let access_title = access.clone();
                                    let role = if u.admin { "admin" } else { "user" };
                                    let UserRow { id, username, display_name, .. } = u;
                                    view! {
                                        <tr data-testid=testid>
                                            <td class="py-2 pr-4">
                                                <A href=format!("/users/{id}") attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">{username}</A>
                                                <span class="ml-2 text-slate-500">{display_name}</span>
                                            </td>
                                            <td class="py-2 pr-4">{role}</td>
                                            <td class="max-w-md truncate py-2 pr-4" title=access_title>{access}</td>
                                            <td class="py-2"><StatusBadge status=state /></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <div class="mt-3"><Pager total=p.total page=p.page per_page=p.per_page args noun="account" /></div>
                    </Card>
                    <NewUserForm create />
                }
                .into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() testid="users-error" /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="Users · Berth" />
        <div class="space-y-6">
            <PageHeader title="Users" subtitle="Accounts and what each may do. Give sub-accounts roles on clusters from their page." />
            <Transition fallback=|| ()>{list}</Transition>
        </div>
    }
}

/// Creating an account (shown with the list, so only to those the list is shown to: admins).
#[component]
fn NewUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let error = move || err(create.value().get());
    let field_error = move |field: &'static str| move || error().and_then(|e| e.for_field(field));
    view! {
            <Card title="New user">
                <ActionForm action=create>
                    <div class="grid gap-3 sm:grid-cols-2">
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Username"</span>
                            <input name="username" class=INPUT autocomplete="off" required maxlength="64" pattern=r"[A-Za-z0-9][A-Za-z0-9._\-]*"
                                title="Letters, digits, '.', '_' and '-', starting with a letter or digit" data-testid="new-username" />
                            <span class="block text-xs text-red-600" data-testid="error-username">{field_error("username")}</span>
                        </label>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Display name"</span>
                            <input name="display_name" class=INPUT autocomplete="off" maxlength="64" />
                            <span class="block text-xs text-red-600" data-testid="error-display_name">{field_error("display_name")}</span>
                        </label>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Role"</span>
                            <select name="role" class=SELECT data-testid="new-role">
                                <option value="user">"User: only what their grants allow"</option>
                                <option value="admin">"Admin: everything"</option>
                            </select>
                        </label>
                        <div></div>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Initial password"</span>
                            <input name="password" type="password" class=INPUT autocomplete="new-password" minlength="12" data-testid="new-password" />
                            <span class="block text-xs text-slate-500">"Leave empty to get an invite link with which they choose their own."</span>
                            <span class="block text-xs text-red-600" data-testid="error-password">{field_error("password")}</span>
                        </label>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Repeat the password"</span>
                            <input name="confirm_password" type="password" class=INPUT autocomplete="new-password" data-testid="new-confirm" />
                            <span class="block text-xs text-red-600" data-testid="error-confirm_password">{field_error("confirm_password")}</span>
                        </label>
                    </div>
                    <div class="mt-3 flex flex-wrap items-center gap-3">
                        <button type="submit" class=PRIMARY disabled=move || create.pending().get() data-testid="create-user">"Create user"</button>
                        {move || matches!(create.value().get(), Some(Ok(None))).then(|| view! { <span class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="user-created">"Created; they can sign in now."</span> })}
                    </div>
                </ActionForm>
                <div class="mt-3">
                    {move || create.value().get().and_then(Result::ok).flatten().map(|i| view! { <LinkBox issued=i note="Send this invite link to the new user." /> })}
                    {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="create-user-error" /> })}
                </div>
            </Card>
    }
}

/// The actions of one user's page.
#[derive(Clone, Copy)]
struct UserActions {
    disable: ServerAction<SetUserDisabled>,
    role: ServerAction<SetUserRole>,
    delete: ServerAction<DeleteUser>,
    reset: ServerAction<ResetPassword>,
    grant: ServerAction<SetGrant>,
    revoke_grant: ServerAction<RevokeGrant>,
    revoke_session: ServerAction<RevokeSession>,
    revoke_token: ServerAction<RevokeToken>,
}

impl UserActions {
    fn version(&self) -> usize {
        self.disable.version().get()
            + self.role.version().get()
            + self.reset.version().get()
            + self.grant.version().get()
            + self.revoke_grant.version().get()
            + self.revoke_session.version().get()
            + self.revoke_token.version().get()
    }
}

#[component]
pub fn UserDetailPage() -> impl IntoView {
    let page = crate::components::ui::page_id("/users/", "id");
    let id = move || page.get();
    let a = UserActions {
        disable: ServerAction::new(),
        role: ServerAction::new(),
        delete: ServerAction::new(),
        reset: ServerAction::new(),
        grant: ServerAction::new(),
        revoke_grant: ServerAction::new(),
        revoke_session: ServerAction::new(),
        revoke_token: ServerAction::new(),
    };
    let page = crate::codec::resource(move || (id(), a.version()), |(id, _)| get_user(id));
    crate::toast_on_success!(a.role, "Role changed");
    crate::toast_on_success!(a.grant, "Access granted");
    crate::toast_on_success!(a.revoke_grant, "Access revoked");
    crate::toast_on_success!(a.disable, "Account updated");
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = a.delete.value().get() {
            navigate("/users", Default::default());
        }
    });
    let error = move || {
        first_error([
            err(a.disable.value().get()),
            err(a.role.value().get()),
            err(a.delete.value().get()),
            err(a.reset.value().get()),
            err(a.grant.value().get()),
            err(a.revoke_grant.value().get()),
            err(a.revoke_session.value().get()),
            err(a.revoke_token.value().get()),
        ])
    };
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <UserView p a /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() testid="user-error" /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="User · Berth" />
        <div class="max-w-5xl space-y-6">
            {move || error().map(|e| view! { <ErrorBanner message=e.display() testid="action-error" /> })}
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

#[component]
fn UserView(p: UserPage, a: UserActions) -> impl IntoView {
    let u = p.user.clone();
    let id = u.id;
    let deleting = RwSignal::new(false);
    let state = if u.disabled {
        "disabled"
    } else if u.invite_expires_at.is_some() {
        "invited"
    } else {
        "active"
    };
    view! {
        <PageHeader title=u.username.clone() subtitle=format!("{} · {}", u.display_name, if u.admin { "admin" } else { "user" })>
            <StatusBadge status=state testid="user-state" />
            <ActionForm action=a.disable>
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="disabled" value=(!u.disabled).to_string() />
                <button type="submit" class=BUTTON data-testid="toggle-disabled">{if u.disabled { "Enable" } else { "Disable" }}</button>
            </ActionForm>
            <ActionForm action=a.role>
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="role" value=if u.admin { "user" } else { "admin" } />
                <button type="submit" class=BUTTON data-testid="toggle-role">{if u.admin { "Make user" } else { "Make admin" }}</button>
            </ActionForm>
            <button type="button" class=BUTTON on:click=move |_| deleting.set(true) data-testid="delete-user">"Delete"</button>
        </PageHeader>
        {move || deleting.get().then(|| view! {
            <div role="alertdialog" class="flex flex-wrap items-center gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950">
                <span class="flex-1">"Delete this account? Its sessions, tokens and grants go; its entries in the operation history stay."</span>
                <ActionForm action=a.delete>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class=DANGER data-testid="delete-user-confirm">"Delete account"</button>
                </ActionForm>
                <button type="button" class=BUTTON on:click=move |_| deleting.set(false)>"Cancel"</button>
            </div>
        })}
        <div class="grid gap-6 lg:grid-cols-2">
            <Card title="Access">
                {if u.admin {
                    view! { <p class="text-sm" data-testid="grants">"Admins may do everything on every cluster."</p> }.into_any()
                } else {
                    view! {
                        <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="grants">
                            {u.grants.is_empty().then(|| view! { <li class="py-2 text-slate-500">"No access yet."</li> })}
                            {u.grants.clone().into_iter().map(|g| view! {
                                <li class="flex items-center justify-between gap-2 py-2" data-testid=format!("grant-{}", g.cluster_id.map_or("all".to_string(), |c| c.to_string()))>
                                    <span>{format!("{} on {}", g.role_label, g.cluster_name)}</span>
                                    <ActionForm action=a.revoke_grant>
                                        <input type="hidden" name="id" value=g.id />
                                        <button type="submit" class=BUTTON data-testid="revoke-grant">"Revoke"</button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                        </ul>
                        <ActionForm action=a.grant>
                            <input type="hidden" name="user" value=id />
                            <div class="mt-3 grid gap-2 sm:grid-cols-3 sm:items-end">
                                <select name="role" class=SELECT data-testid="grant-role" aria-label="Role to grant">
                                    <option value="viewer">"Viewer"</option>
                                    <option value="operator">"Operator"</option>
                                    <option value="cluster_admin">"Cluster admin"</option>
                                </select>
                                <select name="cluster" class=SELECT data-testid="grant-cluster" aria-label="On which cluster">
                                    {p.clusters.iter().map(|(cid, name)| view! { <option value=cid.to_string()>{name.clone()}</option> }).collect_view()}
                                    <option value="all">"Every cluster"</option>
                                </select>
                                <button type="submit" class=PRIMARY data-testid="add-grant">"Grant"</button>
                            </div>
                        </ActionForm>
                    }.into_any()
                }}
            </Card>
            <Card title="Password">
                <dl>
                    <Fact label="Created" value=format::date_utc(u.created_at) />
                    <Fact label="Invite link" value=u.invite_expires_at.map_or("none open".to_string(), |t| format!("open until {}", format::date_utc(t))) />
                </dl>
                <ActionForm action=a.reset>
                    <input type="hidden" name="id" value=id />
                    <div class="mt-3 flex flex-wrap items-end gap-2">
                        <input name="password" type="password" class=INLINE_PASSWORD placeholder="New password, or empty for a reset link" autocomplete="new-password" data-testid="reset-password" />
                        <button type="submit" class=BUTTON data-testid="reset">"Reset"</button>
                    </div>
                </ActionForm>
                <div class="mt-3">
                    {move || match a.reset.value().get() {
                        Some(Ok(Some(i))) => Some(view! { <LinkBox issued=i note="Send this reset link to the user." /> }.into_any()),
                        Some(Ok(None)) => Some(view! { <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="reset-done">"Password set; their sessions have ended."</p> }.into_any()),
                        _ => None,
                    }}
                </div>
            </Card>
        </div>
        <Card title="Sessions">
            <SessionList sessions=p.sessions.clone() user=id now=p.now revoke=a.revoke_session />
        </Card>
        <Card title="API tokens">
            <TokenList tokens=p.tokens.clone() now=p.now revoke=a.revoke_token />
        </Card>
    }
}
