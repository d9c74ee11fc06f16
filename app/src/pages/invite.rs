//! The page an invite (or password reset) link opens: choose a password, then one is signed in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::ram::{get_invite, AcceptInvite};
use crate::components::ui::{go_to, ErrorBanner, Field, Logo, SubmitButton};

#[component]
pub fn Invite() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let info = crate::codec::resource(token, get_invite);
    let accept = ServerAction::<AcceptInvite>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = accept.value().get() {
            go_to("/");
        }
    });
    let error = move || accept.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));
    let body = move || {
        Suspend::new(async move {
            match info.await {
                Ok(i) if i.valid => view! {
                    <p class="text-sm">"Choose a password for "<strong data-testid="invite-username">{i.username}</strong>"."</p>
                    <ActionForm action=accept>
                        <input type="hidden" name="token" value=token() />
                        <div class="space-y-3">
                            <Field label="Password" name="password" kind="password" autocomplete="new-password" required=true hint="At least 12 characters; common passwords are refused." error=field_error("password") />
                            <Field label="Repeat the password" name="confirm_password" kind="password" autocomplete="new-password" required=true error=field_error("confirm_password") />
                            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="invite-error" /> })}
                            <SubmitButton label="Set password and sign in" busy_label="Saving…" busy=accept.pending() />
                        </div>
                    </ActionForm>
                }
                .into_any(),
                Ok(i) => view! { <ErrorBanner message=i.message testid="invite-invalid" /> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="invite-invalid" /> }.into_any(),
            }
        })
    };
    view! {
        <Title text="Set your password · Berth" />
        <main class="grid min-h-screen place-items-center p-4">
            <div class="w-full max-w-sm space-y-6 rounded-2xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="space-y-2">
                    <Logo />
                    <h1 class="text-xl font-semibold">"Set your password"</h1>
                </div>
                <Transition fallback=|| ()>{body}</Transition>
            </div>
        </main>
    }
}
