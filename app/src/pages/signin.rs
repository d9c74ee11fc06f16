//! Sign in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::{get_setup_state, SetupState, SignIn as SignInFn};
use crate::components::ui::{go_to, ErrorBanner, Field, Logo, SubmitButton};

/// A page on this site to go to after signing in (never another site).
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or_else(|| "/".into())
}

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignInFn>::new();
    let query = use_query_map();
    let setup = Resource::new(|| (), |_| get_setup_state(String::new()));

    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            go_to(&safe_next(query.read_untracked().get("next")));
        }
    });

    let error = move || action.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));
    let banner = move || {
        error()
            .filter(|e| e.field.is_none())
            .map(|e| view! { <ErrorBanner message=e.display() testid="signin-error" /> })
    };
    let setup_hint = move || {
        Suspend::new(async move {
            (setup.await.ok() != Some(SetupState::Done)).then(|| {
                view! {
                    <p class="rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200" data-testid="setup-hint">
                        "Berth has no admin yet. Open the one-time setup link that Berth printed when it started."
                    </p>
                }
            })
        })
    };

    view! {
        <Title text="Sign in · Berth" />
        <main class="grid min-h-screen place-items-center p-4">
            <div class="w-full max-w-sm space-y-6 rounded-2xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="space-y-2">
                    <Logo />
                    <h1 class="text-xl font-semibold">"Sign in"</h1>
                </div>
                <Transition fallback=|| ()>{setup_hint}</Transition>
                <ActionForm action=action>
                    <div class="space-y-3">
                        <Field label="Username" name="username" autocomplete="username" required=true autofocus=true error=field_error("username") />
                        <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true error=field_error("password") />
                        {banner}
                        <SubmitButton label="Sign in" busy_label="Signing in…" busy=action.pending() />
                    </div>
                </ActionForm>
            </div>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        let cases = [
            (None, "/"),
            (Some("/"), "/"),
            (Some("/clusters?x=1"), "/clusters?x=1"),
            (Some("//evil.example/"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("javascript:alert(1)"), "/"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_next(input.map(String::from)), want, "{input:?}");
        }
    }
}
