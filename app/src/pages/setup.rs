//! Creating the first admin from the one-time setup link Berth printed at its first start.

use leptos::either::EitherOf5;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::{get_setup_state, CreateFirstAdmin, SetupState};
use crate::components::ui::{go_to, ErrorBanner, Field, Logo, SubmitButton};

#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let state = crate::codec::resource(token, get_setup_state);
    let action = ServerAction::<CreateFirstAdmin>::new();

    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            go_to("/");
        }
    });
    let error = move || action.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));

    let body = move || {
        Suspend::new(async move {
            match state.await {
                Ok(SetupState::Valid { .. }) => EitherOf5::A(view! {
                    <p class="text-sm text-slate-600 dark:text-slate-300">
                        "Create the first administrator. This link works once and expires 15 minutes after Berth printed it."
                    </p>
                    <ActionForm action=action>
                        <input type="hidden" name="token" value=token />
                        <div class="space-y-3">
                            <Field label="Username" name="username" autocomplete="username" required=true autofocus=true error=field_error("username") hint="a-z, 0-9, '.', '_' or '-'" />
                            <Field label="Display name" name="display_name" autocomplete="name" error=field_error("display_name") hint="Optional" />
                            <Field label="Password" name="password" kind="password" autocomplete="new-password" required=true error=field_error("password") hint="At least 12 characters" />
                            <Field label="Confirm password" name="confirm_password" kind="password" autocomplete="new-password" required=true error=field_error("confirm_password") />
                            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="setup-error" /> })}
                            <SubmitButton label="Create admin and sign in" busy_label="Creating…" busy=action.pending() />
                        </div>
                    </ActionForm>
                }),
                Ok(SetupState::Done) => EitherOf5::B(view! {
                    <p class="text-sm" data-testid="setup-done">"Berth is set up already. "<a class="font-medium text-sky-600 hover:underline" href="/signin">"Sign in"</a></p>
                }),
                Ok(SetupState::Expired) => EitherOf5::C(view! {
                    <ErrorBanner message="This setup link has expired. Restart Berth to print a new one." testid="setup-expired" />
                }),
                Ok(SetupState::Used) => EitherOf5::D(view! {
                    <ErrorBanner message="This setup link has been used already." testid="setup-used" />
                }),
                Ok(SetupState::Unknown) | Err(_) => EitherOf5::E(view! {
                    <ErrorBanner message="This setup link is not valid. Use the newest link Berth printed, or restart Berth for a new one." testid="setup-invalid" />
                }),
            }
        })
    };

    view! {
        <Title text="Set up · Berth" />
        <main class="grid min-h-screen place-items-center p-4">
            <div class="w-full max-w-md space-y-6 rounded-2xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="space-y-2">
                    <Logo />
                    <h1 class="text-xl font-semibold">"Set up Berth"</h1>
                </div>
                <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Checking the link…"</p> }>{body}</Suspense>
            </div>
        </main>
    }
}
