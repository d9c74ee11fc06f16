//! Installation settings: the quotas, and the mail server e-mail alerts go through (admins).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::cluster::{get_quotas, SetQuotas};
use crate::components::ui::{go_to, Card, ErrorBanner, PageHeader, INPUT, PRIMARY};

#[component]
pub fn Settings() -> impl IntoView {
    let save = ServerAction::<SetQuotas>::new();
    crate::toast_on_success!(save, "Quotas saved");
    let quotas = crate::codec::resource(move || save.version().get(), |_| get_quotas());
    // Everyone may read the quotas; only admins see the button that changes them.
    let user = crate::components::layout::use_user();
    let error = move || save.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|e| e.for_field(field));
    let form = move || {
        Suspend::new(async move {
            let admin = matches!(user.await, Ok(Some(u)) if u.admin);
            match quotas.await {
                Ok(q) => view! {
                    <ActionForm action=save>
                        <div class="grid gap-4 sm:grid-cols-2">
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Clusters per installation"</span>
                                <input name="max_clusters" type="number" min="0" class=INPUT value=q.max_clusters data-testid="max-clusters" />
                                <span class="block text-xs text-red-600">{field_error("max_clusters")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Nodes per cluster"</span>
                                <input name="max_nodes_per_cluster" type="number" min="1" class=INPUT value=q.max_nodes_per_cluster data-testid="max-nodes" />
                                <span class="block text-xs text-red-600">{field_error("max_nodes_per_cluster")}</span>
                            </label>
                        </div>
                        <div class="mt-4 flex items-center gap-3">
                            {if admin {
                                view! { <button type="submit" class=PRIMARY data-testid="save-quotas">"Save"</button> }.into_any()
                            } else {
                                view! { <span class="text-sm text-slate-500" data-testid="quotas-read-only">"Only admins change the quotas."</span> }.into_any()
                            }}
                            {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <span class="text-sm text-emerald-700" data-testid="saved">"Saved"</span> })}
                        </div>
                    </ActionForm>
                }
                .into_any(),
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
        <Title text="Settings · Berth" />
        <div class="max-w-3xl space-y-6">
            <PageHeader title="Settings" subtitle="Limits for this installation." />
            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() /> })}
            <Card title="Quotas">
                <Transition fallback=|| ()>{form}</Transition>
            </Card>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(user.await, Ok(Some(u)) if u.admin).then(|| view! { <MailCard /> })
                })}
            </Transition>
        </div>
    }
}

/// The mail server: where e-mail alerts go out, with a test e-mail.
#[component]
fn MailCard() -> impl IntoView {
    use crate::api::observe::{get_mail, SetMail, TestMail};
    let save = ServerAction::<SetMail>::new();
    let test = ServerAction::<TestMail>::new();
    crate::toast_on_success!(save, "Mail server saved");
    crate::toast_on_success!(test, "Test e-mail sent");
    let mail = crate::codec::resource(move || save.version().get(), |_| get_mail());
    let error = move || save.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|e| e.for_field(field));
    let test_error = move || test.value().get().and_then(Result::err);
    let form = move || {
        Suspend::new(async move {
            match mail.await {
                Ok(m) => {
                    let security = m.security.clone();
                    let no_host = m.host.is_empty();
                    let chosen = move |s: &str| security == s || (security.is_empty() && s == "starttls");
                    view! {
                    <ActionForm action=save attr:data-testid="mail-form">
                        <div class="grid gap-4 sm:grid-cols-2">
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"SMTP host"</span>
                                <input name="host" class=INPUT value=m.host.clone() placeholder="smtp.example.com" data-testid="mail-host" />
                                <span class="block text-xs text-slate-500">"Empty turns e-mail alerts off."</span>
                                <span class="block text-xs text-red-600" data-testid="error-host">{field_error("host")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Port"</span>
                                <input name="port" inputmode="numeric" class=INPUT value=if m.port == 0 { "587".to_string() } else { m.port.to_string() } data-testid="mail-port" />
                                <span class="block text-xs text-red-600" data-testid="error-port">{field_error("port")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Security"</span>
                                <select name="security" class=INPUT data-testid="mail-security">
                                    <option value="starttls" selected=chosen("starttls")>"STARTTLS (port 587)"</option>
                                    <option value="tls" selected=chosen("tls")>"TLS (port 465)"</option>
                                    <option value="none" selected=chosen("none")>"None: a relay on this host or network"</option>
                                </select>
                                <span class="block text-xs text-red-600">{field_error("security")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Sender address"</span>
                                <input name="from" class=INPUT value=m.from.clone() placeholder="berth@example.com" data-testid="mail-from" />
                                <span class="block text-xs text-red-600" data-testid="error-from">{field_error("from")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Username (optional)"</span>
                                <input name="username" class=INPUT value=m.username.clone() autocomplete="off" data-testid="mail-username" />
                                <span class="block text-xs text-red-600">{field_error("username")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Password"</span>
                                <input name="password" type="password" class=INPUT autocomplete="new-password" data-testid="mail-password"
                                    placeholder=if m.password_set { "set: leave empty to keep it" } else { "" } />
                                {m.password_set.then(|| view! {
                                    <label class="flex items-center gap-1 text-xs"><input type="checkbox" name="clear_password" value="1" />"Remove the password"</label>
                                })}
                            </label>
                        </div>
                        <div class="mt-4"><button type="submit" class=PRIMARY data-testid="mail-save">"Save"</button></div>
                    </ActionForm>
                    <ActionForm action=test attr:class="mt-4 flex flex-wrap items-end gap-2 border-t border-slate-100 pt-4 dark:border-slate-800">
                        <label class="block min-w-0 flex-1 space-y-1">
                            <span class="text-sm font-medium">"Send a test e-mail to"</span>
                            <input name="to" class=INPUT placeholder="you@example.com" data-testid="mail-test-to" />
                        </label>
                        <button type="submit" class=crate::components::ui::BUTTON disabled=no_host data-testid="mail-test">"Send test"</button>
                    </ActionForm>
                    {move || test_error().map(|e| view! { <ErrorBanner message=e.display() testid="mail-test-error" /> })}
                }.into_any()
                }
                Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
            }
        })
    };
    view! {
        <Card title="Mail server">
            <p class="mb-3 text-sm text-slate-500">"Alert rules that notify by e-mail send through this server."</p>
            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() /> })}
            <Transition fallback=|| ()>{form}</Transition>
        </Card>
    }
}
